package fedspark.engine;

import fedspark.data.ClientShard;

/**
 * FedAvg's ClientUpdate (McMahan et al., Algorithm 1): E epochs of minibatch SGD with batch B and the
 * model's learning rate, starting from the global model; the client returns its model. With E=1 and
 * B=inf this is FedSGD returning the model.
 */
public final class SgdClientUpdate implements ClientUpdate {

    private final ModelSpec model;
    private final int localEpochs;
    private final int batchSize;
    private final long seed;
    private final TrainSettings.LocalStep localStep;

    public SgdClientUpdate(ModelSpec model, int localEpochs, int batchSize, long seed, TrainSettings.LocalStep localStep) {
        this.model = model;
        this.localEpochs = localEpochs;
        this.batchSize = batchSize;
        this.seed = seed;
        this.localStep = localStep;
    }

    @Override
    public ClientResult update(ClientShard shard, float[] global, int round) {
        int n = shard.size();
        if (n == 0) {
            return new ClientResult(shard.client(), 0, new float[0], 0, 0);
        }
        LocalTrainer trainer = model.threadTrainer(localStep);
        trainer.setParameters(global);
        int b = Math.min(batchSize, n);
        double lossSum = 0;
        long lossCount = 0;
        for (int epoch = 0; epoch < localEpochs; epoch++) {
            int[] order = LocalBatches.order(n, seed, round, shard.client(), epoch);
            for (int from = 0; from < n; from += b) {
                int to = Math.min(n, from + b);
                lossSum += trainer.step(shard, order, from, to) * (to - from);
                lossCount += to - from;
            }
        }
        return new ClientResult(shard.client(), n, trainer.parameters(), lossSum, lossCount);
    }
}
