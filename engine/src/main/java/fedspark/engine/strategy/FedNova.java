package fedspark.engine.strategy;

import java.util.LinkedHashMap;
import java.util.Map;

import fedspark.engine.aggregate.WeightedSum;

/**
 * FedNova (Wang et al. 2020, "Tackling the Objective Inconsistency Problem in Heterogeneous Federated
 * Optimization"), as NIID-Bench runs it: client i, after tau_i local steps of SGD with momentum rho from x to y_i,
 * normalises its update by a_i = (tau_i - rho (1 - rho^tau_i) / (1 - rho)) / (1 - rho) (a_i = tau_i without
 * momentum). The server steps x -= tau_eff * sum(p_i d_i) with d_i = (x - y_i) / a_i, tau_eff = sum(p_i a_i) and
 * p_i = n_i / n (n the round's examples): clients that take more steps no longer pull the average towards their own
 * optimum. With equal step counts it is FedAvg.
 * <p>What a client sends keeps the fixed-point sums in range and exact enough: its change x - y_i with weight n_i / a_i
 * (so sum_i (n_i / a_i)(x - y_i) = n sum_i p_i d_i, with no d_i rounded to 2^-32 before tau_eff multiplies it), and
 * a_i with weight n_i / N, N the run's examples (K clients' n_k summed), so that the sum of a_i stays near tau_eff
 * however large n tau_eff grows (with weight n_i it left the fixed-point range at n tau_eff = 2^30).
 */
public final class FedNova extends FedAvg {

    static final String NORMALISER = "a";

    private double effectiveSteps = Double.NaN;

    /** N: the examples of all K clients, or, for a strategy built without the clients' sizes, a nominal 2^20. */
    private final double allExamples;

    public FedNova(StrategyContext context) {
        super(context);
        long total = java.util.Arrays.stream(context.clientSizes()).sum();
        allExamples = total > 0 ? total : 0x1p20;
    }

    /** a_i for tau local steps with momentum rho. */
    static double normaliser(int tau, double rho) {
        if (rho == 0) {
            return tau;
        }
        return (tau - rho * (1 - Math.pow(rho, tau)) / (1 - rho)) / (1 - rho);
    }

    @Override
    protected LocalTraining localTraining() {
        double examples = allExamples;
        return (shard, input, state, local, rule) -> {
            float[] x = input.global();
            LocalSgd.Trained trained = local.train(shard, x, rule, input.round());
            double a = normaliser(trained.steps(), rule.momentum());
            float[] y = trained.parameters();
            float[] change = new float[x.length];
            for (int j = 0; j < x.length; j++) {
                change[j] = (float) ((double) x[j] - y[j]);
            }
            return new ClientResult(shard.client(), shard.size(), shard.size() / a, change, Map.of(), trained.lossSum(), trained.lossCount())
                    .with(NORMALISER, shard.size() / examples, (float) a);
        };
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        double[] sum = aggregate.vectors().sum(); // sum_i (n_i / a_i)(x - y_i) = n sum_i p_i d_i
        double n = aggregate.examples();
        effectiveSteps = aggregate.named(NORMALISER).sum()[0] / aggregate.named(NORMALISER).weight();
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = (float) (global[j] - effectiveSteps * (sum[j] / n));
        }
        return next;
    }

    @Override
    protected boolean sendsModel() {
        return false; // x - y_i, an update already
    }

    @Override
    protected boolean sendsOnlyModel() {
        return false;
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> columns = super.metrics();
        columns.put("tau_effective", effectiveSteps);
        return columns;
    }
}
