package fedspark.engine.evaluation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;

import fedspark.data.BadInputException;
import fedspark.data.ClientShard;
import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;

/**
 * Evaluates the global model on the server's held-out test set (cross-entropy loss and accuracy), with the same
 * forward pass as training (the lean one where it covers the model). The test set is the server's own data: on the
 * driver's thread, or, {@link #onSpark}, split into slices scored in parallel, so that evaluation uses every core:
 * on a cluster the slices are broadcast once to the executors and scored by a Spark job of a task per slice; in local
 * mode, where the executors are the driver's JVM, by a driver thread a slice, without a Spark job a round. All give
 * the same figures, bit for bit.
 */
public final class Evaluator {

    private final ModelSpec model;
    private final TrainSettings.LocalStep step;
    private final ClientShard test;
    private JavaSparkContext jsc; // null: on the driver
    private Broadcast<ClientShard[]> slices; // null: on the driver
    private ClientShard[] localSlices; // in local mode: scored by localThreads
    private java.util.concurrent.ExecutorService localThreads;

    public Evaluator(ModelSpec model, TrainSettings.LocalStep step, List<Row> testRows) {
        if (testRows.isEmpty()) {
            throw new BadInputException("the test set is empty");
        }
        int d = model.input().size();
        float[] x = new float[testRows.size() * d];
        int[] y = new int[testRows.size()];
        for (int i = 0; i < testRows.size(); i++) {
            Row row = testRows.get(i);
            int label = row.getInt(0);
            if (label < 0 || label >= model.classes()) {
                throw new BadInputException("test set: label " + label + " of row " + i + " is out of range [0, " + model.classes() + ")");
            }
            List<Float> values = row.getList(1);
            if (values.size() != d) {
                throw new BadInputException("test set: row " + i + " has " + values.size() + " features, the model takes " + d);
            }
            for (int j = 0; j < d; j++) {
                x[i * d + j] = values.get(j);
            }
            y[i] = label;
        }
        this.model = model;
        this.step = step;
        this.test = new ClientShard(-1, d, x, y);
    }

    /** The test set as read by {@link fedspark.data.ClientLayout#readTable} (labels and widths checked there). */
    public Evaluator(ModelSpec model, TrainSettings.LocalStep step, ClientShard test) {
        if (test.size() == 0) {
            throw new BadInputException("the test set is empty");
        }
        if (test.featureSize() != model.input().size()) {
            throw new BadInputException("test set: " + test.featureSize() + " features an example, the model takes " + model.input().size());
        }
        this.model = model;
        this.step = step;
        this.test = test;
    }

    /**
     * Scores on every core from now on: the test set cut into as many slices as Spark's default parallelism (whole
     * chunks of {@link Scores#CHUNK} examples each); in local mode on the driver's threads ({@link #onDriverThreads}),
     * on a cluster on the executors ({@link #onExecutors}).
     */
    public Evaluator onSpark(JavaSparkContext jsc) {
        return jsc.isLocal() ? onDriverThreads(jsc.defaultParallelism()) : onExecutors(jsc);
    }

    /** A driver thread a slice, no Spark job: for local mode, where the executors' cores are the driver's. */
    public Evaluator onDriverThreads(int parallelism) {
        localSlices = slices(parallelism);
        localThreads = java.util.concurrent.Executors.newFixedThreadPool(localSlices.length, task -> {
            Thread thread = new Thread(task, "fedspark-evaluation");
            thread.setDaemon(true);
            return thread;
        });
        return this;
    }

    /** A Spark task a slice, the slices broadcast once, so each executor fetches them once, not with every round's tasks. */
    public Evaluator onExecutors(JavaSparkContext jsc) {
        this.jsc = jsc;
        this.slices = jsc.broadcast(slices(jsc.defaultParallelism()));
        return this;
    }

    private ClientShard[] slices(int parallelism) {
        int chunks = (test.size() + Scores.CHUNK - 1) / Scores.CHUNK;
        int count = Math.max(1, Math.min(parallelism, chunks));
        ClientShard[] parts = new ClientShard[count];
        int d = test.featureSize();
        for (int s = 0; s < count; s++) {
            int from = Math.min(test.size(), (int) ((long) chunks * s / count) * Scores.CHUNK);
            int to = Math.min(test.size(), (int) ((long) chunks * (s + 1) / count) * Scores.CHUNK);
            parts[s] = new ClientShard(-1, d, Arrays.copyOfRange(test.features(), from * d, to * d), Arrays.copyOfRange(test.labels(), from, to));
        }
        return parts;
    }

    /** Frees the executors' copies of the test set, or the local threads. */
    public void release() {
        if (slices != null) {
            slices.destroy();
            slices = null;
        }
        if (localThreads != null) {
            localThreads.shutdown();
            localThreads = null;
        }
    }

    public Evaluation evaluate(float[] parameters) {
        int classes = model.classes();
        if (localThreads != null) {
            List<java.util.concurrent.Future<Scores>> parts = new ArrayList<>();
            for (ClientShard slice : localSlices) {
                parts.add(localThreads.submit(() -> {
                    var network = model.threadTrainer(step);
                    network.setParameters(parameters);
                    return Scores.of(network, slice, 0, slice.size(), classes);
                }));
            }
            List<Scores> scores = new ArrayList<>();
            for (var part : parts) { // in slice order
                try {
                    scores.add(part.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while scoring the test set", e);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                }
            }
            return Scores.combine(scores);
        }
        if (slices == null) {
            var network = model.threadTrainer(step);
            network.setParameters(parameters);
            return Scores.combine(List.of(Scores.of(network, test, 0, test.size(), classes)));
        }
        Broadcast<float[]> shared = jsc.broadcast(parameters);
        try {
            ModelSpec spec = model;
            TrainSettings.LocalStep localStep = step;
            Broadcast<ClientShard[]> testSlices = slices;
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < testSlices.value().length; i++) {
                indices.add(i);
            }
            List<Scores> parts = jsc.parallelize(indices, indices.size()).map(i -> {
                ClientShard slice = testSlices.value()[i];
                var network = spec.threadTrainer(localStep);
                network.setParameters(shared.value());
                return Scores.of(network, slice, 0, slice.size(), classes);
            }).collect(); // in slice order
            return Scores.combine(parts);
        } finally {
            shared.destroy();
        }
    }
}
