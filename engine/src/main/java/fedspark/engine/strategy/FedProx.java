package fedspark.engine.strategy;

import fedspark.engine.local.StepRule;

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

    @Override
    public ClientUpdate clientUpdate() {
        LocalSgd local = LocalSgd.of(context);
        StepRule base = LocalSgd.baseRule(settings());
        double proximal = mu;
        return (shard, input, state) -> {
            if (shard.size() == 0) {
                return ClientResult.empty(shard.client());
            }
            LocalSgd.Trained trained = local.train(shard, input.global(), base.withProximalTerm(proximal, input.global()), input.round());
            return ClientResult.weightedByExamples(shard.client(), shard.size(), trained.parameters(), trained.lossSum(), trained.lossCount());
        };
    }
}
