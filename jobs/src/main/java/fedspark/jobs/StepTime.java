package fedspark.jobs;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import fedspark.data.ClientShard;
import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;
import fedspark.engine.local.LocalTrainer;
import fedspark.engine.local.StepRule;
import fedspark.models.FlatParameters;
import fedspark.models.InputShape;
import fedspark.models.TrainingFlops;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The local step alone: one thread stepping a model through minibatches of generated examples, without Spark, the
 * round or the data's reading; microseconds a step and GFLOP/s (the model's training work, {@link TrainingFlops}).
 * What the lean step's kernels are measured with (docs/benchmarks.md "The local step").
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = "Microseconds and GFLOP/s of one local SGD step of a model on one thread (generated examples, no Spark).")
final class StepTime implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "a model fedspark ships, e.g. mcmahan-2nn, mcmahan-cnn")
    String model;

    @Option(names = "--batch", description = "minibatch size B (default: ${DEFAULT-VALUE})")
    int batch = 10;

    @Option(names = "--shape", description = "input channels x height x width (default: ${DEFAULT-VALUE})")
    String shape = "1x28x28";

    @Option(names = "--local-step", description = "lean or dl4j (default: ${DEFAULT-VALUE})")
    String localStep = "lean";

    @Option(names = "--seconds", description = "timed seconds a repetition (default: ${DEFAULT-VALUE})")
    double seconds = 1;

    @Option(names = "--repetitions", description = "timed repetitions, after one of warm-up (default: ${DEFAULT-VALUE})")
    int repetitions = 5;

    @Override
    public Integer call() {
        if (batch < 1 || !(seconds > 0) || repetitions < 1) {
            throw new IllegalArgumentException("--batch, --seconds and --repetitions must be positive");
        }
        TrainSettings.LocalStep step = switch (localStep) {
            case "lean" -> TrainSettings.LocalStep.AUTO;
            case "dl4j" -> TrainSettings.LocalStep.DL4J;
            default -> throw new IllegalArgumentException("--local-step is lean or dl4j, got " + localStep);
        };
        int[] dims = Arrays.stream(shape.split("x")).mapToInt(Integer::parseInt).toArray();
        if (dims.length != 3) {
            throw new IllegalArgumentException("--shape is channels x height x width, e.g. 1x28x28, got " + shape);
        }
        InputShape input = InputShape.image(dims[0], dims[1], dims[2]);
        ModelSpec spec = new ModelSpec(model, input, 10, 0.05);
        if (step == TrainSettings.LocalStep.AUTO && !spec.hasLeanStep()) {
            throw new IllegalArgumentException(model + " has no lean step: " + spec.leanStepLacks());
        }
        int n = Math.max(600, 20 * batch);
        SplittableRandom random = new SplittableRandom(1);
        float[] features = new float[n * input.size()];
        for (int i = 0; i < features.length; i++) {
            features[i] = (float) random.nextDouble();
        }
        ClientShard shard = new ClientShard(0, input.size(), features, random.ints(n, 0, 10).toArray());
        LocalTrainer trainer = spec.newTrainer(step);
        float[] start = FlatParameters.of(spec.newNetwork(1L));
        trainer.setStepRule(StepRule.sgd(0.05));
        int[] order = random.ints(0, n).distinct().limit(n).toArray();
        double[] microseconds = new double[repetitions];
        for (int r = -1; r < repetitions; r++) {
            trainer.setParameters(start); // bounded parameters however long it runs
            long began = System.nanoTime();
            long deadline = began + (long) (seconds * 1e9);
            long steps = 0;
            long now;
            do {
                int from = (int) (steps * batch % (n - batch + 1));
                trainer.step(shard, order, from, from + batch);
                steps++;
                now = System.nanoTime();
            } while (now < deadline);
            if (r >= 0) {
                microseconds[r] = (now - began) / 1e3 / steps;
            }
        }
        double median = new org.apache.commons.math3.stat.descriptive.rank.Median().evaluate(microseconds);
        TrainingFlops flops = spec.trainingFlops();
        String rate = flops.counted() ? String.format(Locale.ROOT, ", %.1f GFLOP/s (%s)", flops.perExample() * batch / median / 1e3,
                flops.line()) : "";
        FedSpark.say(String.format(Locale.ROOT, "%s on %s, B=%d, %s step (%s), 1 thread: %.1f us a step (median of %d x %.1f s; %.1f to %.1f)%s",
                model, shape, batch, localStep, spec.kernels(step), median, repetitions, seconds,
                Arrays.stream(microseconds).min().orElseThrow(), Arrays.stream(microseconds).max().orElseThrow(), rate));
        return 0;
    }
}
