package fedspark.engine.strategy;

import java.util.LinkedHashMap;
import java.util.Map;

import fedspark.engine.aggregate.WeightedSum;

/**
 * SCAFFOLD (Karimireddy et al. 2020, "SCAFFOLD: Stochastic Controlled Averaging for Federated Learning"), option II,
 * as NIID-Bench runs it. The server keeps a control variate c, client i its own c_i (client state, zero at first).
 * Each local step is corrected by lr (c - c_i) after the optimizer's step; after K local steps from x to y_i the
 * client sets c_i+ = c_i - c + (x - y_i) / (K lr) and sends y_i (weight n_i) and c_i+ - c_i (weight 1). The server:
 * x += eta_g (weighted average of y_i - x), c += (sum of c_i+ - c_i) / N over all N clients.
 * Settings: {@code train.scaffold.server-lr} (eta_g). In its first round (c = c_i = 0) it is FedAvg, bit for bit.
 */
public final class Scaffold extends FedAvg {

    static final String CONTROL = "c";
    static final String CONTROL_DELTA = "delta_c";

    private final double serverLr;
    private float[] control;

    public Scaffold(StrategyContext context) {
        super(context);
        serverLr = context.options().getDouble("server-lr");
        if (!(serverLr > 0)) {
            throw new IllegalArgumentException("train.scaffold.server-lr must be positive, got " + serverLr);
        }
    }

    @Override
    public Map<String, float[]> shared(int round, float[] global) {
        if (control == null) {
            control = new float[global.length]; // c starts at 0
        }
        return Map.of(CONTROL, control);
    }

    @Override
    public boolean keepsClientState() {
        return true;
    }

    @Override
    protected LocalTraining localTraining() {
        return (shard, input, state, local, base) -> {
            float[] x = input.global();
            float[] c = input.shared(CONTROL);
            float[] ci = state.get(CONTROL);
            if (ci == null) {
                ci = new float[x.length];
            }
            float[] correction = new float[x.length];
            boolean corrected = false;
            for (int j = 0; j < x.length; j++) {
                correction[j] = c[j] - ci[j];
                corrected |= correction[j] != 0;
            }
            LocalSgd.Trained trained = local.train(shard, x, corrected ? base.withCorrection(correction) : base, input.round());
            float[] y = trained.parameters();
            double scale = 1.0 / (trained.steps() * base.learningRate());
            float[] next = new float[x.length];
            float[] delta = new float[x.length];
            for (int j = 0; j < x.length; j++) {
                next[j] = (float) (ci[j] - c[j] + ((double) x[j] - y[j]) * scale);
                delta[j] = next[j] - ci[j];
            }
            state.put(CONTROL, next);
            return ClientResult.weightedByExamples(shard.client(), shard.size(), y, trained.lossSum(), trained.lossCount())
                    .with(CONTROL_DELTA, 1, delta);
        };
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] average = meanModel(round, global, aggregate);
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = (float) (global[j] + serverLr * ((double) average[j] - global[j]));
        }
        double[] deltas = aggregate.named(CONTROL_DELTA).sum();
        float[] c = control;
        int clients = context.clients();
        for (int j = 0; j < c.length; j++) {
            c[j] = (float) (c[j] + deltas[j] / clients);
        }
        return next;
    }

    @Override
    protected Map<String, float[]> serverState() {
        return control == null ? Map.of() : Map.of(CONTROL, control.clone());
    }

    @Override
    protected void restoreServerState(Map<String, float[]> state) {
        if (!state.isEmpty() && (state.size() != 1 || !state.containsKey(CONTROL))) {
            throw new IllegalArgumentException("a SCAFFOLD checkpoint holds the control variate c alone, found " + state.keySet());
        }
        control = state.isEmpty() ? null : state.get(CONTROL).clone();
    }

    @Override
    protected boolean sendsOnlyModel() {
        return false;
    }

    @Override
    public Map<String, Double> metrics() {
        double sum = 0;
        for (float v : control) {
            sum += (double) v * v;
        }
        Map<String, Double> columns = super.metrics();
        columns.put("control_variate_norm", Math.sqrt(sum));
        return columns;
    }
}
