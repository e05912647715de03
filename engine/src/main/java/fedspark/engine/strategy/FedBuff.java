package fedspark.engine.strategy;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

import fedspark.engine.Seeds;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.simulation.ClientProfiles;

/**
 * FedBuff (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous Aggregation") in simulated time:
 * {@code concurrency} clients train at once, each from the model version it was sent; when one finishes (its
 * simulated duration, {@link ClientProfiles}) the server starts another idle client on the current model; every
 * {@code buffer} arrivals the server applies x += server-lr (1 / buffer) sum_i s(tau_i) Delta_i, with tau_i the
 * number of server steps since client i's version and s(tau) = 1 / sqrt(1 + tau) ({@code staleness = sqrt}) or 1.
 * A round is one server step: its Spark job trains the buffer's clients, each from its own start model. The
 * schedule is computed on the driver from the seed alone, so a run gives the same model on any number of executors.
 */
public final class FedBuff extends Strategy<WeightedSum> {

    private static final long SCHEDULE = 10;

    private final FedAvg clients;
    private final ClientProfiles profiles;
    private final int buffer;
    private final int concurrency;
    private final double serverLr;
    private final boolean stalenessWeighted;
    private final long modelBytes;

    // The schedule (rebuilt on resume by replaying it; never checkpointed itself).
    private record InFlight(int client, int version, double finish) {
    }

    private final List<InFlight> inFlight = new ArrayList<>();
    private final BitSet busy;
    private List<InFlight> arrivals = List.of();
    private int version;
    private double time;
    private int scheduledRounds;
    private final Map<Integer, float[]> models = new TreeMap<>(); // start models of clients in flight, by version
    private double meanStaleness = Double.NaN;

    /** What the buffer's clients receive: each one's start version, those versions' models, and the current version. */
    public record StartModels(Map<Integer, Integer> versions, Map<Integer, float[]> models, int current) implements Serializable {
    }

    public FedBuff(StrategyContext context) {
        super(context);
        if (!context.train().hasPath("simulation")) {
            throw new IllegalArgumentException("fedbuff runs in simulated time: it needs the train.simulation block");
        }
        com.typesafe.config.Config train = context.train();
        if (train.hasPath("privacy.mode") && !train.getString("privacy.mode").equals("off")
                || train.hasPath("secure-aggregation.enabled") && train.getBoolean("secure-aggregation.enabled")) {
            throw new IllegalArgumentException("fedbuff weighs and applies each buffer itself: it does not combine with "
                    + "train.privacy or train.secure-aggregation");
        }
        this.clients = new FedAvg(context.withoutSimulation());
        this.profiles = new ClientProfiles(context.train().getConfig("simulation"), context.settings(), context.clientSizes());
        this.buffer = context.options().getInt("buffer");
        this.concurrency = context.options().getInt("concurrency");
        this.serverLr = context.options().getDouble("server-lr");
        String staleness = context.options().getString("staleness");
        if (!staleness.equals("sqrt") && !staleness.equals("none")) {
            throw new IllegalArgumentException("train.fedbuff.staleness must be sqrt or none, got '" + staleness + "'");
        }
        this.stalenessWeighted = staleness.equals("sqrt");
        if (buffer < 1 || concurrency < buffer || concurrency + buffer > context.clients() || !(serverLr > 0)) {
            throw new IllegalArgumentException("train.fedbuff needs 1 <= buffer <= concurrency <= K - buffer and server-lr > 0, got buffer "
                    + buffer + ", concurrency " + concurrency + ", K " + context.clients() + ", server-lr " + serverLr);
        }
        this.busy = new BitSet(context.clients());
        this.modelBytes = 4L * context.model().parameterCount();
    }

    @Override
    public int[] sample(int round, int clientCount) {
        advance(round);
        int[] ids = arrivals.stream().mapToInt(InFlight::client).toArray();
        Arrays.sort(ids);
        return ids;
    }

    /** Moves the schedule through round {@code round}: the buffer's arrivals, and the clients started in their place. */
    private void advance(int round) {
        if (scheduledRounds == 0 && inFlight.isEmpty()) {
            SplittableRandom first = new SplittableRandom(Seeds.mix(context.settings().seed(), SCHEDULE, 0));
            for (int i = 0; i < concurrency; i++) {
                start(pickIdle(first, Set.of()), 0, 0.0);
            }
        }
        inFlight.sort(Comparator.comparingDouble(InFlight::finish).thenComparingInt(InFlight::client));
        List<InFlight> arrived = new ArrayList<>(inFlight.subList(0, buffer));
        inFlight.subList(0, buffer).clear();
        Set<Integer> arrivedClients = new HashSet<>();
        arrived.forEach(a -> {
            busy.clear(a.client());
            arrivedClients.add(a.client());
        });
        SplittableRandom random = new SplittableRandom(Seeds.mix(context.settings().seed(), SCHEDULE, round));
        for (int i = 0; i < arrived.size(); i++) {
            // the last arrival triggers the server step: its replacement gets the new model
            start(pickIdle(random, arrivedClients), i == arrived.size() - 1 ? version + 1 : version, arrived.get(i).finish());
        }
        time = arrived.get(arrived.size() - 1).finish();
        arrivals = arrived;
        scheduledRounds = round;
    }

    private int pickIdle(SplittableRandom random, Set<Integer> excluded) {
        int k;
        do {
            k = random.nextInt(context.clients());
        } while (busy.get(k) || excluded.contains(k));
        return k;
    }

    private void start(int client, int startVersion, double at) {
        busy.set(client);
        inFlight.add(new InFlight(client, startVersion, at + profiles.duration(client, profiles.steps(client), modelBytes, modelBytes)));
    }

    @Override
    public Map<String, float[]> shared(int round, float[] global) {
        models.putIfAbsent(version, global.clone());
        return Map.of();
    }

    @Override
    public Serializable setup(int round, int[] sampled) {
        Map<Integer, Integer> versions = new HashMap<>();
        Map<Integer, float[]> needed = new HashMap<>();
        for (InFlight a : arrivals) {
            versions.put(a.client(), a.version());
            needed.put(a.version(), models.get(a.version()));
        }
        return new StartModels(versions, needed, version);
    }

    @Override
    public boolean allowsEmptyRounds() {
        return true;
    }

    @Override
    public boolean keepsClientState() {
        return clients.keepsClientState();
    }

    @Override
    public ClientUpdate clientUpdate() {
        ClientUpdate train = clients.clientUpdate();
        boolean weighted = stalenessWeighted;
        return (shard, input, state) -> {
            StartModels start = (StartModels) input.setup();
            int startVersion = start.versions().get(shard.client());
            float[] x = start.models().get(startVersion);
            ClientResult result = train.update(shard, new RoundInput(input.round(), x, input.shared(), input.states()), state);
            if (result.examples() == 0) {
                return result;
            }
            int staleness = start.current() - startVersion;
            double weight = weighted ? 1 / Math.sqrt(1 + staleness) : 1;
            return new ClientResult(result.client(), result.examples(), weight, result.changeFrom(x), Map.of(), result.lossSum(), result.lossCount())
                    .with(STALENESS, 1, staleness);
        };
    }

    private static final String STALENESS = "staleness";

    @Override
    public WeightedSum newAggregate() {
        return WeightedSum.empty();
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] next = global.clone();
        if (aggregate.clients() > 0) {
            double[] sum = aggregate.vectors().sum(); // sum_i s(tau_i) Delta_i
            for (int j = 0; j < next.length; j++) {
                next[j] = (float) (global[j] + serverLr * sum[j] / buffer);
            }
            meanStaleness = aggregate.named(STALENESS).sum()[0] / aggregate.named(STALENESS).weight();
        }
        version++;
        models.put(version, next.clone());
        Set<Integer> referenced = new HashSet<>();
        inFlight.forEach(f -> referenced.add(f.version()));
        models.keySet().retainAll(referenced);
        return next;
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> columns = new LinkedHashMap<>();
        columns.put("simulated_time", time);
        columns.put("mean_staleness", meanStaleness);
        return columns;
    }

    @Override
    public Map<String, float[]> state() {
        Map<String, float[]> state = new LinkedHashMap<>();
        state.put("fedbuff_rounds", new float[] {scheduledRounds});
        models.forEach((v, model) -> state.put("fedbuff_model_" + v, model.clone()));
        return state;
    }

    @Override
    public void restore(Map<String, float[]> state) {
        float[] rounds = state.get("fedbuff_rounds");
        if (rounds == null) {
            super.restore(state);
            return;
        }
        // the schedule depends on the seed alone: replay it, and take the start models in flight from the checkpoint
        for (int round = 1; round <= (int) rounds[0]; round++) {
            advance(round);
            version++;
        }
        models.clear();
        state.forEach((name, values) -> {
            if (name.startsWith("fedbuff_model_")) {
                models.put(Integer.parseInt(name.substring("fedbuff_model_".length())), values.clone());
            }
        });
    }
}
