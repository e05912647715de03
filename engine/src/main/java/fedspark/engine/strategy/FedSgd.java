package fedspark.engine.strategy;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;

import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.local.Batches;
import fedspark.models.FlatParameters;

/**
 * FedSGD with clients returning gradients (the thesis's Algorithm 1; McMahan et al.'s baseline): each client
 * sends the mean loss gradient over its whole shard at the global model, and the server takes one gradient step of
 * train.lr along their n_k / n weighted average. Needs E = 1 and B = inf. (FedAvg with E = 1 and B = inf is the same
 * algorithm with clients returning models.)
 */
public final class FedSgd extends Strategy<WeightedSum> {

    public FedSgd(StrategyContext context) {
        super(context);
        TrainSettings s = context.settings();
        if (s.localEpochs() != 1 || s.batchSize() != TrainSettings.WHOLE_SHARD) {
            throw new IllegalArgumentException("train.algorithm = fedsgd takes one full-batch gradient per client: it needs E = 1 and "
                    + "B = inf, got E = " + s.localEpochs() + ", B = " + s.batchSizeText());
        }
        if (s.momentum() != 0 || s.weightDecay() != 0) {
            throw new IllegalArgumentException("train.algorithm = fedsgd steps on the server: train.momentum and train.weight-decay must be 0");
        }
    }

    @Override
    public ClientUpdate clientUpdate() {
        ModelSpec model = context.model();
        return (shard, input, state) -> {
            int n = shard.size();
            if (n == 0) {
                return ClientResult.empty(shard.client());
            }
            MultiLayerNetwork net = model.threadNetwork();
            FlatParameters.set(net, input.global());
            DataSet all = Batches.all(shard, model.classes());
            net.setInput(all.getFeatures());
            net.setLabels(all.getLabels());
            net.computeGradientAndScore();
            // DL4J's backward pass sums over the examples (its updater divides by the batch size): take the mean.
            float[] gradient = net.gradient().gradient().toFloatVector();
            for (int i = 0; i < gradient.length; i++) {
                gradient[i] /= n;
            }
            return ClientResult.weightedByExamples(shard.client(), n, gradient, net.score() * n, n);
        };
    }

    @Override
    public WeightedSum newAggregate() {
        return WeightedSum.empty();
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] gradient = aggregate.average();
        double lr = settings().learningRate();
        float[] next = new float[global.length];
        for (int i = 0; i < global.length; i++) {
            next[i] = (float) (global[i] - lr * gradient[i]);
        }
        return next;
    }
}
