package fedspark.engine.strategy;

import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.local.StepRule;

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data"):
 * each client runs {@link LocalSgd} from the global model and returns its model; the next global model is the
 * n_k / n weighted average. With E = 1 and B = inf it is FedSGD with clients returning their models.
 */
public class FedAvg extends Strategy<WeightedSum> {

    public FedAvg(StrategyContext context) {
        super(context);
    }

    @Override
    public ClientUpdate clientUpdate() {
        LocalSgd local = LocalSgd.of(context);
        StepRule rule = LocalSgd.baseRule(settings());
        return (shard, input, state) -> {
            if (shard.size() == 0) {
                return ClientResult.empty(shard.client());
            }
            LocalSgd.Trained trained = local.train(shard, input.global(), rule, input.round());
            return ClientResult.weightedByExamples(shard.client(), shard.size(), trained.parameters(), trained.lossSum(), trained.lossCount());
        };
    }

    @Override
    public WeightedSum newAggregate() {
        return WeightedSum.empty();
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        return aggregate.average();
    }
}
