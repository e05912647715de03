package fedspark.engine.strategy;

import java.util.LinkedHashMap;
import java.util.Map;

import fedspark.engine.aggregate.WeightedSum;

/**
 * FedNova (Wang et al. 2020, "Tackling the Objective Inconsistency Problem in Heterogeneous Federated
 * Optimization"), as NIID-Bench runs it: client i, after tau_i local steps of SGD with momentum rho from x to y_i,
 * sends its normalised update d_i = (x - y_i) / a_i, with a_i = (tau_i - rho (1 - rho^tau_i) / (1 - rho)) / (1 - rho)
 * (a_i = tau_i without momentum), and a_i itself, both weighted by n_i. The server steps
 * x -= tau_eff * sum(p_i d_i) with tau_eff = sum(p_i a_i), p_i = n_i / n: clients that take more steps no longer pull
 * the average towards their own optimum. With equal step counts it is FedAvg.
 */
public final class FedNova extends FedAvg {

    static final String NORMALISER = "a";

    private double effectiveSteps = Double.NaN;

    public FedNova(StrategyContext context) {
        super(context);
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
        return (shard, input, state, local, rule) -> {
            float[] x = input.global();
            LocalSgd.Trained trained = local.train(shard, x, rule, input.round());
            double a = normaliser(trained.steps(), rule.momentum());
            float[] y = trained.parameters();
            float[] d = new float[x.length];
            for (int j = 0; j < x.length; j++) {
                d[j] = (float) (((double) x[j] - y[j]) / a);
            }
            return ClientResult.weightedByExamples(shard.client(), shard.size(), d, trained.lossSum(), trained.lossCount())
                    .with(NORMALISER, shard.size(), (float) a);
        };
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] d = aggregate.average();
        effectiveSteps = aggregate.named(NORMALISER).sum()[0] / aggregate.named(NORMALISER).weight();
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = (float) (global[j] - effectiveSteps * d[j]);
        }
        return next;
    }

    @Override
    protected boolean sendsModel() {
        return false; // d_i, an update already
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
