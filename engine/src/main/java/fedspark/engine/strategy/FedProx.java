package fedspark.engine.strategy;

/**
 * FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): FedAvg whose clients minimise
 * their loss plus (mu / 2) ||w - w_global||^2, so each step's gradient gains mu (w - w_global).
 * Settings: {@code train.fedprox.mu}. With mu = 0 it is FedAvg, bit for bit.
 */
public final class FedProx extends FedAvg {

    private final double mu;

    public FedProx(StrategyContext context) {
        super(context);
        mu = context.options().getDouble("mu");
        if (mu < 0) {
            throw new IllegalArgumentException("train.fedprox.mu cannot be negative, got " + mu);
        }
    }

    /** FedProx keeps its stragglers' partial work (train.stragglers). */
    @Override
    protected boolean keepsStragglers() {
        return true;
    }

    @Override
    protected LocalTraining localTraining() {
        double proximal = mu;
        return (shard, input, state, local, rule) -> {
            LocalSgd.Trained trained = local.train(shard, input.global(), rule.withProximalTerm(proximal, input.global()), input.round());
            return ClientResult.weightedByExamples(shard.client(), shard.size(), trained.parameters(), trained.lossSum(), trained.lossCount());
        };
    }
}
