package fedspark.engine.strategy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import fedspark.data.ClientShard;
import fedspark.engine.robust.Attack;
import fedspark.engine.robust.ClientVectors;
import fedspark.engine.robust.CoordinateMedian;
import fedspark.engine.robust.Krum;
import fedspark.engine.robust.NormBounding;
import fedspark.engine.robust.RobustRule;
import fedspark.engine.robust.TrimmedMean;

/**
 * FedAvg's clients with a robust server (train.algorithm = robust): every sampled client's update (its model minus
 * the global model) reaches the driver whole ({@link ClientVectors}: O(m x model) driver memory), and
 * train.robust.rule combines them: {@code mean} (FedAvg's n_k-weighted mean, in double), {@code median},
 * {@code trimmed-mean}, {@code krum}, {@code multi-krum} or {@code norm-bounding}; the global model moves by the
 * result. train.attack makes some clients Byzantine ({@link Attack}).
 */
public final class Robust extends Strategy<ClientVectors> {

    private final FedAvg clients;
    private final RobustRule rule;
    private final Attack attack;
    private int maliciousInRound;

    public Robust(StrategyContext context) {
        super(context);
        Config train = context.train();
        if (train.hasPath("privacy.mode") && !train.getString("privacy.mode").equals("off")
                || train.hasPath("secure-aggregation.enabled") && train.getBoolean("secure-aggregation.enabled")) {
            throw new IllegalArgumentException("train.algorithm = robust reads every client's update: it does not combine with "
                    + "train.privacy or train.secure-aggregation");
        }
        this.clients = new FedAvg(context);
        Config options = context.options();
        String name = options.getString("rule");
        this.rule = switch (name) {
            case "mean" -> RobustRule::weightedMean;
            case "median" -> new CoordinateMedian();
            case "trimmed-mean" -> new TrimmedMean(options.getDouble("trim"));
            case "krum" -> new Krum(options.getDouble("byzantine"), 1);
            case "multi-krum" -> new Krum(options.getDouble("byzantine"), options.getInt("multi-krum"));
            case "norm-bounding" -> new NormBounding(options.getDouble("norm-bound"));
            default -> throw new IllegalArgumentException("train.robust.rule must be mean, median, trimmed-mean, krum, multi-krum "
                    + "or norm-bounding, got '" + name + "'");
        };
        Config attackBlock = train.hasPath("attack") ? train.getConfig("attack")
                : ConfigFactory.parseString("kind = none, fraction = 0, scale = 1, noise-std = 0, z = 0");
        this.attack = new Attack(attackBlock, context.clients(), context.model().classes(), context.settings().seed());
    }

    @Override
    public int[] sample(int round, int clientCount) {
        int[] sampled = clients.sample(round, clientCount);
        maliciousInRound = (int) java.util.Arrays.stream(sampled).filter(attack::isMalicious).count();
        return sampled;
    }

    @Override
    public Map<String, float[]> shared(int round, float[] global) {
        return clients.shared(round, global); // the simulated stragglers' step budgets
    }

    @Override
    public boolean keepsClientState() {
        return clients.keepsClientState();
    }

    @Override
    public ClientUpdate clientUpdate() {
        ClientUpdate train = clients.clientUpdate();
        Attack byzantine = attack;
        return (shard, input, state) -> {
            ClientShard data = byzantine.data(shard);
            ClientResult result = train.update(data, input, state);
            if (result.examples() == 0) {
                return result;
            }
            return new ClientResult(result.client(), result.examples(), result.weight(),
                    byzantine.corrupt(result.changeFrom(input.global()), shard.client(), input.round()), Map.of(), result.lossSum(), result.lossCount());
        };
    }

    @Override
    public ClientVectors newAggregate() {
        return new ClientVectors();
    }

    @Override
    public float[] serverStep(int round, float[] global, ClientVectors aggregate) {
        List<ClientVectors.Entry> received = attack.received(aggregate.entries());
        float[] update = rule.combine(received);
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = global[j] + update[j];
        }
        return next;
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> columns = new LinkedHashMap<>();
        columns.put("malicious", (double) maliciousInRound);
        return columns;
    }
}
