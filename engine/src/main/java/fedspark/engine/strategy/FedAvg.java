package fedspark.engine.strategy;

import java.io.Serializable;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import fedspark.data.ClientShard;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.local.StepRule;
import fedspark.engine.logic.TransformContext;
import fedspark.engine.logic.Update;
import fedspark.engine.logic.UpdatePipeline;
import fedspark.engine.privacy.DifferentialPrivacy;
import fedspark.engine.secagg.Masks;
import fedspark.engine.secagg.SecureAggregation;
import fedspark.engine.secagg.SecureRound;
import fedspark.engine.simulation.SynchronousRounds;
import fedspark.engine.state.ClientState;

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data"):
 * each client runs {@link LocalSgd} from the global model and returns its model; the next global model is the
 * n_k / n weighted average. With E = 1 and B = inf it is FedSGD with clients returning their models. The algorithms
 * that train clients the same way and differ in what they send or what the server does extend it.
 * <p>Every such algorithm gets the logic layer (train.update: what a client does to its update before sending it)
 * and, for those whose clients send only their model, differential privacy (train.privacy, {@link DifferentialPrivacy}):
 * subclasses take the round's mean model from {@link #meanModel}, which applies both.
 */
public class FedAvg extends Strategy<WeightedSum> {

    private final DifferentialPrivacy privacy;
    private final UpdatePipeline pipeline;
    private final SecureAggregation secure; // null: clients' results travel unmasked
    private SecureRound secureRound;
    private final SynchronousRounds simulation; // null: no simulated time
    private SynchronousRounds.Plan plan;
    private double simulatedTime;
    private int plannedRounds;
    private final double stragglerFraction; // train.stragglers.fraction: FedProx's stragglers, 0 for none
    private Map<Integer, Long> stragglerBudgets = Map.of(); // this round's stragglers (kept) and their step budgets
    private int stragglerCount;

    public FedAvg(StrategyContext context) {
        super(context);
        privacy = context.train().hasPath("privacy")
                ? new DifferentialPrivacy(context.train().getConfig("privacy"), context.settings(), context.clientSizes(),
                        context.model().parameterCount())
                : DifferentialPrivacy.off(context.settings(), context.clients());
        if (privacy.on() && !sendsOnlyModel()) {
            throw new IllegalArgumentException("train.privacy covers algorithms whose clients send only their model; "
                    + context.settings().algorithm() + " sends more, which the privacy accounting does not cover");
        }
        pipeline = UpdatePipeline.of(privacy.clientTransforms(0), context.train().hasPath("update") ? context.train().getConfig("update")
                : com.typesafe.config.ConfigFactory.parseString("transforms = []"), privacy.finalTransforms());
        com.typesafe.config.Config train = context.train();
        if (train.hasPath("secure-aggregation") && train.getBoolean("secure-aggregation.enabled")) {
            if (!sendsOnlyModel() || privacy.adaptiveClip()) {
                throw new IllegalArgumentException("train.secure-aggregation covers clients that send only their model update; "
                        + (privacy.adaptiveClip() ? "adaptive clipping also sends a count" : context.settings().algorithm() + " sends more"));
            }
            secure = new SecureAggregation(train.getDouble("secure-aggregation.dropout"),
                    train.getDouble("secure-aggregation.threshold"), context.settings().seed());
        } else {
            secure = null;
        }
        if (train.hasPath("simulation") && train.getBoolean("simulation.enabled")) {
            if (privacy.on()) {
                throw new IllegalArgumentException("train.simulation plans which clients take part; train.privacy samples them itself");
            }
            simulation = new SynchronousRounds(train.getConfig("simulation"), context.settings(), context.clientSizes(),
                    4L * context.model().parameterCount());
        } else {
            simulation = null;
        }
        stragglerFraction = train.hasPath("stragglers.fraction") ? train.getDouble("stragglers.fraction") : 0;
        if (stragglerFraction != 0) {
            int m = context.settings().sampledClients(context.clients());
            if (!(stragglerFraction > 0 && stragglerFraction < 1) || simulation != null || privacy.on()
                    || context.settings().localEpochs() < 2) {
                throw new IllegalArgumentException("train.stragglers.fraction must be in [0, 1), needs E >= 2 (stragglers run [1, E) epochs) "
                        + "and neither train.simulation nor train.privacy; got " + stragglerFraction + " with E = " + context.settings().localEpochs());
            }
            if (!keepsStragglers() && Math.rint(m * (1 - stragglerFraction)) < 1) {
                throw new IllegalArgumentException("train.stragglers.fraction = " + stragglerFraction + " leaves none of the " + m
                        + " sampled clients once " + context.settings().algorithm() + " drops its stragglers");
            }
        }
    }

    /** True when the stragglers' partial work is aggregated (FedProx); false when they are dropped (FedAvg). */
    protected boolean keepsStragglers() {
        return false;
    }

    /** The stream of straggler choices (Seeds' purposes 1 to 4 are taken). */
    static final long STRAGGLERS = 5;

    /**
     * FedProx's stragglers among {@code sampled} (its repository's trainers: numpy's choice of round(m (1 - fraction))
     * clients that run E epochs, the others a uniform number of epochs in [1, E)); seeded by the seed and the round, so
     * FedAvg and FedProx get the same stragglers. Kept: each straggler's epochs become a step budget, e ceil(n_k / B)
     * steps, the budgets simulated deadlines already set ({@link #budgeted}). Dropped: the round keeps the others.
     */
    private int[] withStragglers(int round, int[] sampled) {
        int m = sampled.length;
        int active = (int) Math.rint(m * (1 - stragglerFraction)); // Python's round, half to even
        int[] order = sampled.clone();
        java.util.SplittableRandom random = new java.util.SplittableRandom(fedspark.engine.Seeds.mix(settings().seed(), STRAGGLERS, round));
        for (int i = 0; i < m - 1; i++) { // a seeded shuffle: the first `active` run E epochs
            int j = i + random.nextInt(m - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int epochs = settings().localEpochs();
        stragglerCount = m - active;
        Map<Integer, Long> budgets = new java.util.TreeMap<>();
        for (int i = active; i < m; i++) {
            int client = order[i];
            int e = 1 + new java.util.SplittableRandom(fedspark.engine.Seeds.mix(settings().seed(), STRAGGLERS, round, client))
                    .nextInt(epochs - 1);
            long n = context.clientSizes()[client];
            long b = Math.min(settings().batchSize(), Math.max(1, n));
            budgets.put(client, e * ((n + b - 1) / b));
        }
        if (keepsStragglers()) {
            stragglerBudgets = budgets;
            return sampled;
        }
        stragglerBudgets = Map.of();
        int[] kept = java.util.Arrays.copyOf(order, active);
        java.util.Arrays.sort(kept);
        return kept;
    }

    /** This round's stragglers that keep their partial work, with their step budgets (empty when none or dropped). */
    final Map<Integer, Long> stragglerBudgets() {
        return stragglerBudgets;
    }

    /** The simulated clients, or null when the run has no simulated time. */
    protected final SynchronousRounds simulation() {
        return simulation;
    }

    /** True when a client sends its model and nothing else (false for algorithms that send control variates or normalisers). */
    protected boolean sendsOnlyModel() {
        return true;
    }

    /** True when the vector a client sends is its model (the logic layer then works on its change from the global model). */
    protected boolean sendsModel() {
        return true;
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
    public int[] sample(int round, int clients) {
        if (simulation != null) {
            plan = simulation.plan(round, clients);
            simulatedTime += plan.seconds();
            plannedRounds = round;
            return plan.clients();
        }
        if (stragglerFraction > 0) {
            return withStragglers(round, super.sample(round, clients));
        }
        return privacy.on() ? privacy.sample(round) : super.sample(round, clients);
    }

    @Override
    public boolean allowsEmptyRounds() {
        return privacy.on() || secure != null; // under secure aggregation the clients are only counted once unmasked
    }

    @Override
    public String refusal(int round) {
        return privacy.refusal(round);
    }

    @Override
    public Map<String, float[]> shared(int round, float[] global) {
        Map<Integer, Long> stepBudgets = plan != null ? plan.stepBudgets() : stragglerBudgets;
        if (stepBudgets.isEmpty()) {
            return privacy.shared();
        }
        Map<String, float[]> shared = new HashMap<>(privacy.shared());
        float[] budgets = new float[2 * stepBudgets.size()]; // (client, steps) pairs
        int i = 0;
        for (Map.Entry<Integer, Long> budget : stepBudgets.entrySet()) {
            budgets[i++] = budget.getKey();
            budgets[i++] = budget.getValue();
        }
        shared.put(STEP_BUDGETS, budgets);
        return shared;
    }

    /** The shared table of stragglers' step budgets. */
    static final String STEP_BUDGETS = "step_budgets";

    /** Client {@code client}'s local training under the round's step budgets. */
    static LocalSgd budgeted(LocalSgd local, RoundInput input, int client) {
        float[] budgets = input.shared().get(STEP_BUDGETS);
        if (budgets != null) {
            for (int i = 0; i < budgets.length; i += 2) {
                if ((int) budgets[i] == client) {
                    return local.limitedTo((long) budgets[i + 1]);
                }
            }
        }
        return local;
    }

    @Override
    public java.io.Serializable setup(int round, int[] sampled) {
        secureRound = secure == null || sampled.length == 0 ? null : secure.setup(round, sampled);
        return secureRound;
    }

    @Override
    public boolean keepsClientState() {
        return pipeline.keepsClientState();
    }

    @Override
    public final ClientUpdate clientUpdate() {
        LocalSgd local = LocalSgd.of(context);
        StepRule rule = LocalSgd.baseRule(settings());
        LocalTraining training = localTraining();
        ClientUpdate plain = plainUpdate(local, rule, training);
        if (secure == null) {
            return plain;
        }
        int length = context.model().parameterCount();
        boolean modelChanges = !pipeline.isEmpty() && sendsModel();
        return (shard, input, state) -> {
            SecureRound round = (SecureRound) input.setup();
            long[] masked = Masks.mask(WeightedSum.encode(plain.update(shard, input, state), length, modelChanges), shard.client(), round);
            // a client that drops out after masking: its masked input never arrives
            return round.dropouts().contains(shard.client()) ? ClientResult.empty(shard.client()) : ClientResult.masked(shard.client(), masked);
        };
    }

    /** The client's update without secure aggregation: training, then the logic layer. */
    private ClientUpdate plainUpdate(LocalSgd local, StepRule rule, LocalTraining training) {
        if (pipeline.isEmpty()) {
            return (shard, input, state) -> shard.size() == 0 ? ClientResult.empty(shard.client())
                    : training.run(shard, input, state, budgeted(local, input, shard.client()), rule);
        }
        UpdatePipeline transforms = pipeline;
        boolean models = sendsModel();
        boolean weighted = privacy.on();
        double cap = privacy.weight(Long.MAX_VALUE); // the weight cap, read here: the tasks must not hold the strategy
        int[] layers = context.model().layerSizes();
        long seed = settings().seed();
        return (shard, input, state) -> {
            if (shard.size() == 0) {
                return ClientResult.empty(shard.client());
            }
            ClientResult result = training.run(shard, input, state, budgeted(local, input, shard.client()), rule);
            Update update = models ? Update.modelDelta(input.global(), result.vector()) : Update.of(result.vector());
            TransformContext where = new TransformContext(input, shard.client(), seed, state, layers);
            Update sent = transforms.apply(update, where);
            double weight = weighted ? Math.min(shard.size(), cap) : result.weight();
            return result.transformed(sent, weight, where.reports());
        };
    }

    @Override
    public WeightedSum newAggregate() {
        return WeightedSum.empty();
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        return meanModel(round, global, aggregate);
    }

    /** The round's mean of the clients' models: FedAvg's weighted average, or under train.privacy its private estimate. */
    protected final float[] meanModel(int round, float[] global, WeightedSum aggregate) {
        if (secureRound != null) {
            long[] correction = secure.unmask(secureRound, aggregate.maskedClients(), global.length + WeightedSum.ENCODED_EXTRA);
            aggregate.unmask(correction, !pipeline.isEmpty() && sendsModel());
            secureRound = null;
        }
        if (aggregate.clients() == 0 && !privacy.on()) {
            throw new IllegalStateException("round " + round + ": no sampled client with examples delivered its update");
        }
        return privacy.on() ? privacy.privateModel(round, global, aggregate) : aggregate.meanModel(global);
    }

    @Override
    public final Map<String, float[]> state() {
        Map<String, float[]> state = new LinkedHashMap<>(serverState());
        state.putAll(privacy.state());
        if (simulation != null && plannedRounds > 0) { // also when restored and checkpointed again before its next round
            state.put(SIMULATED_ROUNDS, new float[] {plannedRounds});
        }
        return state;
    }

    private static final String SIMULATED_ROUNDS = "simulated_rounds";

    @Override
    public final void restore(Map<String, float[]> state) {
        Map<String, float[]> rest = new HashMap<>(state);
        privacy.restore(rest);
        float[] rounds = rest.remove(SIMULATED_ROUNDS);
        if (rounds != null) {
            // the plans depend on the seed and the round only: replaying them gives the simulated time bit for bit
            simulatedTime = 0;
            for (int round = 1; round <= (int) rounds[0]; round++) {
                simulatedTime += simulation.plan(round, context.clients()).seconds();
            }
            plannedRounds = (int) rounds[0];
        }
        restoreServerState(rest);
    }

    /** The algorithm's own server state (momentum, moments, control variate); none for FedAvg. */
    protected Map<String, float[]> serverState() {
        return Map.of();
    }

    /** Restores what {@link #serverState} returned. */
    protected void restoreServerState(Map<String, float[]> state) {
        super.restore(state);
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> columns = super.metrics();
        columns.putAll(privacy.metrics());
        if (secure != null) {
            columns.put("dropouts", (double) secure.lastDropouts());
        }
        if (plan != null) {
            columns.put("simulated_time", simulatedTime);
            columns.put("failed", (double) plan.failed());
            columns.put("stragglers_cut", (double) plan.cut());
            columns.put("stragglers_partial", (double) plan.stepBudgets().size());
        }
        if (stragglerFraction > 0) {
            columns.put("stragglers", (double) stragglerCount);
        }
        return columns;
    }
}
