package fedspark.engine.strategy;

import java.util.Map;

import fedspark.engine.aggregate.WeightedSum;

/**
 * The adaptive server optimizers of Reddi et al. 2021 ("Adaptive Federated Optimization", Algorithm 2): clients run
 * FedAvg's local training; with Delta = (weighted average of the client models) - x, the server keeps
 * m = beta1 m + (1 - beta1) Delta and a second moment v (each subclass's rule), and steps
 * x += eta m / (sqrt(v) + tau). No bias correction, m starts at 0 and v at tau^2, as in the paper.
 * Settings under {@code train.<algorithm>}: server-lr (eta), beta1, beta2, tau. State: m and v, checkpointed.
 * Arithmetic is in double; m and v are kept as floats, so a resumed run computes exactly what an uninterrupted one does.
 */
public abstract class ServerOptimizer extends FedAvg {

    private static final String FIRST = "m";
    private static final String SECOND = "v";

    protected final double serverLr;
    protected final double beta1;
    protected final double beta2;
    protected final double tau;
    private float[] m;
    private float[] v;

    protected ServerOptimizer(StrategyContext context) {
        super(context);
        serverLr = context.options().getDouble("server-lr");
        beta1 = context.options().getDouble("beta1");
        beta2 = context.options().getDouble("beta2");
        tau = context.options().getDouble("tau");
        String name = context.settings().algorithm();
        if (!(serverLr > 0) || beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || !(tau > 0)) {
            throw new IllegalArgumentException("train." + name + " needs server-lr > 0, beta1 and beta2 in [0, 1), tau > 0; got "
                    + serverLr + ", " + beta1 + ", " + beta2 + ", " + tau);
        }
    }

    /** The new second moment from the old one and Delta^2 (one coordinate). */
    protected abstract double secondMoment(double v, double deltaSquared);

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] average = meanModel(round, global, aggregate);
        if (m == null) {
            m = new float[global.length];
            v = new float[global.length];
            java.util.Arrays.fill(v, (float) (tau * tau));
        }
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            double delta = (double) average[j] - global[j];
            m[j] = (float) (beta1 * m[j] + (1 - beta1) * delta);
            v[j] = (float) secondMoment(v[j], delta * delta);
            next[j] = (float) (global[j] + serverLr * m[j] / (Math.sqrt(v[j]) + tau));
        }
        return next;
    }

    @Override
    protected Map<String, float[]> serverState() {
        return m == null ? Map.of() : Map.of(FIRST, m.clone(), SECOND, v.clone());
    }

    @Override
    protected void restoreServerState(Map<String, float[]> state) {
        m = restored(state, FIRST, SECOND);
        v = state.isEmpty() ? null : state.get(SECOND).clone();
    }

    /** The first of {@code names} from a checkpoint's server state, which must hold exactly those (or nothing: not stepped yet). */
    static float[] restored(Map<String, float[]> state, String... names) {
        if (state.isEmpty()) {
            return null;
        }
        if (!state.keySet().equals(java.util.Set.of(names))) {
            throw new IllegalArgumentException("the checkpoint holds server state " + state.keySet() + ", expected "
                    + java.util.Arrays.toString(names));
        }
        return state.get(names[0]).clone();
    }
}
