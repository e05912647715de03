package fedspark.engine.strategy;

import java.util.Map;

import fedspark.engine.aggregate.WeightedSum;

/**
 * FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution for Federated Visual
 * Classification"): FedAvg whose server applies momentum to the round's update. With Delta = (weighted average of
 * the client models) - x: v = beta v + Delta, x += eta v. Settings: {@code train.fedavgm.server-lr} (eta),
 * {@code server-momentum} (beta). With beta = 0 and eta = 1 it is FedAvg.
 */
public final class FedAvgM extends FedAvg {

    private static final String VELOCITY = "velocity";

    private final double serverLr;
    private final double serverMomentum;
    private float[] velocity;

    public FedAvgM(StrategyContext context) {
        super(context);
        serverLr = context.options().getDouble("server-lr");
        serverMomentum = context.options().getDouble("server-momentum");
        if (!(serverLr > 0) || serverMomentum < 0 || serverMomentum >= 1) {
            throw new IllegalArgumentException("train.fedavgm needs server-lr > 0 and server-momentum in [0, 1), got "
                    + serverLr + " and " + serverMomentum);
        }
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] average = meanModel(round, global, aggregate);
        if (velocity == null) {
            velocity = new float[global.length];
        }
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            double v = serverMomentum * velocity[j] + ((double) average[j] - global[j]);
            velocity[j] = (float) v;
            next[j] = (float) (global[j] + serverLr * v);
        }
        return next;
    }

    @Override
    protected Map<String, float[]> serverState() {
        return velocity == null ? Map.of() : Map.of(VELOCITY, velocity.clone());
    }

    @Override
    protected void restoreServerState(Map<String, float[]> state) {
        velocity = ServerOptimizer.restored(state, VELOCITY);
    }
}
