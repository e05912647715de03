package fedspark.engine.strategy;

import java.io.Serializable;

import fedspark.data.ClientShard;
import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;
import fedspark.engine.local.LocalBatches;
import fedspark.engine.local.LocalTrainer;
import fedspark.engine.local.StepRule;

/**
 * A client's local training (McMahan et al., Algorithm 1's ClientUpdate): E epochs of minibatches of B, each
 * epoch in its own seeded order, stepped by a {@link StepRule}. The shared part of every model-returning strategy.
 */
public record LocalSgd(ModelSpec model, TrainSettings.LocalStep localStep, int epochs, int batchSize, long seed, long maxSteps)
        implements Serializable {

    /** Without a step budget. */
    public LocalSgd(ModelSpec model, TrainSettings.LocalStep localStep, int epochs, int batchSize, long seed) {
        this(model, localStep, epochs, batchSize, seed, Long.MAX_VALUE);
    }

    /** The same training, stopped after {@code steps} steps (a straggler's work by a deadline). */
    public LocalSgd limitedTo(long steps) {
        return new LocalSgd(model, localStep, epochs, batchSize, seed, steps);
    }

    public static LocalSgd of(StrategyContext context) {
        TrainSettings s = context.settings();
        return new LocalSgd(context.model(), s.localStep(), s.localEpochs(), s.batchSize(), s.seed());
    }

    /** What local training left: the parameters, the number of steps taken, and the loss summed over examples. */
    public record Trained(float[] parameters, int steps, double lossSum, long lossCount) {
    }

    /** Trains from {@code start} on a non-empty shard. */
    public Trained train(ClientShard shard, float[] start, StepRule rule, int round) {
        int n = shard.size();
        LocalTrainer trainer = model.threadTrainer(localStep);
        trainer.setStepRule(rule);
        trainer.setParameters(start);
        int b = Math.min(batchSize, n);
        double lossSum = 0;
        long lossCount = 0;
        int steps = 0;
        for (int epoch = 0; epoch < epochs && steps < maxSteps; epoch++) {
            int[] order = LocalBatches.order(n, seed, round, shard.client(), epoch);
            for (int from = 0; from < n && steps < maxSteps; from += b) {
                int to = Math.min(n, from + b);
                lossSum += trainer.step(shard, order, from, to) * (to - from);
                lossCount += to - from;
                steps++;
            }
        }
        return new Trained(trainer.parameters(), steps, lossSum, lossCount);
    }

    /** The run's client optimizer: SGD at train.lr with train.momentum and train.weight-decay. */
    public static StepRule baseRule(TrainSettings s) {
        return StepRule.sgd(s.learningRate(), s.momentum(), s.weightDecay());
    }
}
