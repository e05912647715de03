package fedspark.engine.strategy;

import java.io.Serializable;

import fedspark.data.ClientShard;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.local.StepRule;
import fedspark.engine.state.ClientState;

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data"):
 * each client runs {@link LocalSgd} from the global model and returns its model; the next global model is the
 * n_k / n weighted average. With E = 1 and B = inf it is FedSGD with clients returning their models. The algorithms
 * that train clients the same way and differ in what they send or what the server does extend it.
 */
public class FedAvg extends Strategy<WeightedSum> {

    public FedAvg(StrategyContext context) {
        super(context);
    }

    /**
     * What a client of this algorithm does with a non-empty shard, given its local training and the run's step rule
     * (serialized into the tasks: it must not hold the strategy). FedAvg: train from the global model, send the model.
     */
    protected LocalTraining localTraining() {
        return (shard, input, state, local, rule) -> {
            LocalSgd.Trained trained = local.train(shard, input.global(), rule, input.round());
            return ClientResult.weightedByExamples(shard.client(), shard.size(), trained.parameters(), trained.lossSum(), trained.lossCount());
        };
    }

    /** See {@link #localTraining}. */
    @FunctionalInterface
    protected interface LocalTraining extends Serializable {
        ClientResult run(ClientShard shard, RoundInput input, ClientState state, LocalSgd local, StepRule rule);
    }

    @Override
    public final ClientUpdate clientUpdate() {
        LocalSgd local = LocalSgd.of(context);
        StepRule rule = LocalSgd.baseRule(settings());
        LocalTraining training = localTraining();
        return (shard, input, state) -> shard.size() == 0 ? ClientResult.empty(shard.client()) : training.run(shard, input, state, local, rule);
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
