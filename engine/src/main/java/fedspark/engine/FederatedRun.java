package fedspark.engine;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import org.apache.spark.util.CollectionAccumulator;

import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;
import fedspark.engine.aggregate.Aggregate;
import fedspark.engine.evaluation.ClientEvaluation;
import fedspark.engine.evaluation.ClientScore;
import fedspark.engine.evaluation.Evaluation;
import fedspark.engine.evaluation.Evaluator;
import fedspark.engine.evaluation.Fairness;
import fedspark.engine.state.ClientState;
import fedspark.engine.state.ClientStateVersions;
import fedspark.engine.state.RoundStates;
import fedspark.engine.strategy.ClientResult;
import fedspark.engine.strategy.ClientUpdate;
import fedspark.engine.strategy.Personalization;
import fedspark.engine.strategy.RoundInput;
import fedspark.engine.strategy.Strategy;
import fedspark.models.FlatParameters;

/**
 * Federated training on Spark. One round is one Spark job over the sampled clients only:
 * <ol>
 *   <li>the {@link Strategy} picks the round's clients (seeded by the run seed and the round); the driver broadcasts
 *       the global parameters, whatever the strategy shares with clients, and the clients' state versions;</li>
 *   <li>a stage over the sampled clients' partitions only (the others cost nothing), one task per group of clients
 *       placed on the same executor ({@link ClientGroups}), runs the strategy's {@link ClientUpdate} on each
 *       client's cached shard in turn, and commits the client's state when the strategy keeps some;</li>
 *   <li>a treeAggregate of the strategy's {@link Aggregate} (by default the exact fixed-point weighted sum) brings
 *       the combined results to the driver;</li>
 *   <li>the strategy's server step turns them into the next global model, which is evaluated on the server's test
 *       set and, every few rounds, on every client's local test set ({@link #evaluateClients}).</li>
 * </ol>
 */
public final class FederatedRun {

    private final JavaSparkContext jsc;
    private final JavaRDD<ClientShard> shards;
    private final int clients;
    private final ModelSpec model;
    private final TrainSettings settings;
    private final Strategy<?> strategy;
    private final Evaluator evaluator;
    private ClientStateVersions clientState;
    private ClientEvaluation clientEvaluation; // null: no per-client evaluation
    private int clientEvaluationEvery;
    private int[] evaluatedClients; // the clients per-client evaluation scores; null: every client
    private java.util.function.Consumer<List<ClientScore>> clientScores;
    private int failFirstAttemptsInRound;
    private final CollectionAccumulator<String> blasKernels; // each client task's executor's kernels, for PrivacyAudit
    private final CollectionAccumulator<String> encodedBytes; // what each client sent, as encoded, for PrivacyAudit

    /** {@code shards} must have one partition per client, partition k holding client k (see {@link ClientShardRDD}). */
    public FederatedRun(JavaSparkContext jsc, JavaRDD<ClientShard> shards, ModelSpec model, TrainSettings settings,
                        Strategy<?> strategy, Evaluator evaluator) {
        this.jsc = jsc;
        this.shards = shards;
        // fedspark's own clients RDD says K without building its K partitions
        this.clients = shards.rdd() instanceof ClientShardRDD all ? all.clients() : shards.getNumPartitions();
        this.model = model;
        this.settings = settings;
        this.strategy = strategy;
        this.evaluator = evaluator;
        this.blasKernels = jsc.sc().collectionAccumulator(PrivacyAudit.BLAS_KERNEL);
        this.encodedBytes = jsc.sc().collectionAccumulator(PrivacyAudit.ENCODED_BYTES);
    }

    /**
     * Where client state is stored (any Hadoop path; a run keeps it in its run folder), with the versions a
     * checkpoint recorded (empty for a new run). Needed by strategies that keep client state.
     */
    public FederatedRun keepClientStateIn(String root, Map<Integer, Integer> versions) {
        Broadcast<SerializableHadoopConf> hadoop = jsc.broadcast(new SerializableHadoopConf(jsc.hadoopConfiguration()));
        this.clientState = new ClientStateVersions(root, hadoop, versions);
        return this;
    }

    /**
     * Scores the global model, and the strategy's personalized models, on the clients' local test sets after every
     * {@code every}-th round and the last, in a Spark job over the clients' executors; {@code sink} gets the round's
     * scores (ordered by client), the metrics row its {@link Fairness} columns. {@code sample} 0 scores every client;
     * n > 0 the same n clients each time, drawn once from the run seed (at K in the millions, every client would be a
     * job of K tasks' work and K scores on the driver).
     */
    public FederatedRun evaluateClients(ClientEvaluation evaluation, int every, int sample, java.util.function.Consumer<List<ClientScore>> sink) {
        if (every < 1) {
            throw new IllegalArgumentException("evaluation.clients-every must be at least 1, got " + every);
        }
        if (sample < 0) {
            throw new IllegalArgumentException("evaluation.clients-sample must be 0 (every client) or more, got " + sample);
        }
        this.evaluatedClients = sample == 0 || sample >= clients ? null : ClientSampler.draw(clients, sample, Seeds.mix(settings.seed(), Seeds.CLIENT_EVALUATION));
        this.clientEvaluation = evaluation;
        this.clientEvaluationEvery = every;
        this.clientScores = sink;
        return this;
    }

    /** The initial global model: the model's own initialisation from the run seed. */
    public float[] initialParameters() {
        return FlatParameters.of(model.newNetwork(settings.seed()));
    }

    /** Runs rounds {@code firstRound .. settings.rounds()} from {@code global}; returns the final parameters. */
    public float[] train(float[] global, int firstRound, RoundListener onRound) {
        if (strategy.keepsClientState() && clientState == null) {
            throw new IllegalStateException(strategy.getClass().getSimpleName() + " keeps client state: give the run a place for it");
        }
        float[] current = global;
        for (int round = firstRound; round <= settings.rounds(); round++) {
            String refusal = strategy.refusal(round);
            if (refusal != null) {
                throw new RoundRefused(round, refusal);
            }
            long start = System.nanoTime();
            Stepped stepped = step(strategy, current, round);
            current = stepped.global();
            double seconds = (System.nanoTime() - start) / 1e9;
            Evaluation test = evaluator.evaluate(current);
            Map<String, Double> columns = new java.util.LinkedHashMap<>();
            columns.put("upload_bytes", (double) stepped.bytes());
            columns.putAll(strategy.metrics());
            if (clientEvaluation != null) {
                List<ClientScore> scores = round % clientEvaluationEvery == 0 || round == settings.rounds() ? scoreClients(round, current) : null;
                columns.putAll(Fairness.columns(scores));
                if (scores != null) {
                    clientScores.accept(scores);
                }
            }
            onRound.onRound(new RoundMetrics(round, stepped.clients(), stepped.examples(), stepped.meanLoss(), test.loss(),
                    test.accuracy(), seconds, columns), current);
        }
        return current;
    }

    private record Stepped(float[] global, int clients, long examples, double meanLoss, long bytes) {
    }

    /** A round the strategy refused to run (see {@link Strategy#refusal}); the rounds before it are complete. */
    public static final class RoundRefused extends RuntimeException {
        private final int round;

        RoundRefused(int round, String why) {
            super("stopped before round " + round + ": " + why);
            this.round = round;
        }

        /** The round that did not run. */
        public int round() {
            return round;
        }
    }

    /** True when the strategy will refuse round {@code round} (so the round before it should be checkpointed). */
    public boolean refuses(int round) {
        return round <= settings.rounds() && strategy.refusal(round) != null;
    }

    private <A extends Aggregate<A>> Stepped step(Strategy<A> strategy, float[] global, int round) {
        int[] sampled = strategy.sample(round, clients);
        RoundStates states = strategy.keepsClientState() ? clientState.plan(round, sampled) : null;
        RoundInput input = new RoundInput(round, global, strategy.shared(round, global), states, strategy.setup(round, sampled));
        A aggregate = sampled.length == 0 && strategy.allowsEmptyRounds() ? strategy.newAggregate()
                : aggregate(strategy.clientUpdate(), strategy.newAggregate(), input, sampled);
        if (aggregate.clients() == 0 && !strategy.allowsEmptyRounds()) {
            throw new IllegalStateException("round " + round + ": every sampled client " + Arrays.toString(sampled)
                    + " is empty; use a partitioning without empty clients");
        }
        float[] next = strategy.serverStep(round, global, aggregate);
        if (states != null) {
            clientState.record(round, aggregate.served());
        }
        return new Stepped(next, aggregate.clients(), aggregate.examples(), aggregate.meanLoss(), aggregate.bytes());
    }

    /** What the next run needs to go on exactly from {@code round}: the global model, the server state, the client-state versions. */
    public Checkpoint checkpoint(int round, float[] global) {
        return new Checkpoint(round, global, strategy.state(), clientState == null ? Map.of() : clientState.checkpoint());
    }

    /** Sets the server state a checkpoint holds (call before {@link #train} from the round after it). */
    public FederatedRun restore(Checkpoint checkpoint) {
        strategy.restore(checkpoint.serverState());
        return this;
    }

    /**
     * Fault drill: every training task of {@code round} fails its first attempt after its clients' updates (and their
     * state) are done, so Spark retries it (needs spark.task.maxFailures >= 2, e.g. master local[2,2]; clusters
     * default to 4). 0: never.
     */
    public FederatedRun failFirstAttemptsInRound(int round) {
        this.failFirstAttemptsInRound = round;
        return this;
    }

    /**
     * One round's Spark job: local updates of the sampled clients, in groups of clients per task
     * ({@link ClientGroups}), folded into {@code zero}'s kind of aggregate. The job carries its round and its tasks'
     * clients as properties, for {@link PrivacyAudit}.
     */
    <A extends Aggregate<A>> A aggregate(ClientUpdate update, A zero, RoundInput input, int[] sampled) {
        Broadcast<RoundInput> broadcast = jsc.broadcast(input);
        int round = input.round();
        CollectionAccumulator<String> kernels = blasKernels;
        ModelSpec spec = model;
        TrainSettings.LocalStep step = settings.localStep();
        kernels.reset(); // the audit reads each task's own report; the driver keeps none
        CollectionAccumulator<String> sent = encodedBytes;
        sent.reset();
        try {
            boolean failFirstAttempts = round == failFirstAttemptsInRound;
            // Client affinity where the clients are fedspark's own RDD (tests also train on other RDDs).
            ClientShardRDD placed = shards.rdd() instanceof ClientShardRDD clientShards ? clientShards : null;
            int parallelism = jsc.sc().defaultParallelism();
            ClientGroups groups = placed != null ? placed.groups(sampled, parallelism)
                    : ClientGroups.of(sampled, client -> null, client -> 0L, parallelism);
            RDD<ClientShard> chosen = placed != null ? placed.round(groups) : groups.over(shards.rdd());
            A sum = PrivacyAudit.tagged(jsc, round, groups, () -> chosen.toJavaRDD()
                    .mapPartitions((Iterator<ClientShard> clients) -> {
                        RoundInput in = broadcast.value();
                        kernels.add(spec.kernels(step));
                        A partial = zero.fresh();
                        while (clients.hasNext()) {
                            ClientShard shard = clients.next();
                            ClientResult result;
                            if (in.states() == null) {
                                result = update.update(shard, in, NO_STATE);
                            } else {
                                RoundStates.Handle state = in.states().open(shard.client());
                                result = update.update(shard, in, state);
                                if (shard.size() > 0) {
                                    state.commit();
                                }
                            }
                            sent.add(shard.client() + "=" + result.bytes());
                            partial = partial.add(result);
                        }
                        if (failFirstAttempts && TaskContext.get().attemptNumber() == 0) {
                            throw new IllegalStateException("fault drill: first attempt of task " + TaskContext.get().partitionId()
                                    + " in round " + round + " fails on purpose");
                        }
                        return List.of(partial).iterator();
                    })
                    .treeAggregate(zero.fresh(), (a, b) -> a.merge(b), (a, b) -> a.merge(b), settings.aggregationDepth()));
            if (placed != null) {
                placed.remember(sum.served());
            }
            return sum;
        } finally {
            broadcast.destroy();
        }
    }

    /**
     * The per-client evaluation job of round {@code round}: every client with local test examples scores {@code global}
     * and its personalized model on the executor that holds its shard, in groups of clients per task; only scores reach
     * the driver. Client state is read at its latest version and never written.
     */
    public List<ClientScore> scoreClients(int round, float[] global) {
        int[] all = evaluatedClients != null ? evaluatedClients : java.util.stream.IntStream.range(0, clients).toArray();
        RoundStates states = strategy.keepsClientState() ? clientState.plan(round, all) : null;
        Broadcast<RoundInput> broadcast = jsc.broadcast(new RoundInput(round, global, Map.of(), states));
        Personalization personalization = strategy.personalization();
        ClientEvaluation evaluation = clientEvaluation;
        try {
            ClientShardRDD placed = shards.rdd() instanceof ClientShardRDD clientShards ? clientShards : null;
            int parallelism = jsc.sc().defaultParallelism();
            ClientGroups groups = placed != null ? placed.groups(all, parallelism)
                    : ClientGroups.of(all, client -> null, client -> 0L, parallelism);
            List<ClientScore> scores = new java.util.ArrayList<>((placed != null ? placed.round(groups) : groups.over(shards.rdd())).toJavaRDD()
                    .mapPartitions((Iterator<ClientShard> group) -> {
                        RoundInput in = broadcast.value();
                        List<ClientScore> scored = new java.util.ArrayList<>();
                        while (group.hasNext()) {
                            ClientShard shard = group.next();
                            ClientState state = in.states() == null ? NO_STATE : in.states().open(shard.client());
                            ClientScore score = evaluation.score(shard, in, state, personalization);
                            if (score != null) {
                                scored.add(score);
                            }
                        }
                        return scored.iterator();
                    }).collect());
            scores.sort(java.util.Comparator.comparingInt(ClientScore::client));
            return scores;
        } finally {
            broadcast.destroy();
        }
    }

    /** The client state of strategies that keep none. */
    private static final ClientState NO_STATE = new ClientState() {
        @Override
        public float[] get(String name) {
            return null;
        }

        @Override
        public void put(String name, float[] values) {
            throw new IllegalStateException("a client update stored state '" + name + "' but its strategy keeps no client state "
                    + "(keepsClientState() is false)");
        }
    };

    /**
     * Everything a stopped run needs to go on as if never stopped (with the run's seed): the round, the global model,
     * the strategy's server state and the version of each client's state.
     */
    public record Checkpoint(int round, float[] parameters, Map<String, float[]> serverState, Map<Integer, Integer> clientStateVersions) {
    }

    /** Told after every round: its metrics row and the new global parameters (not to be modified). */
    @FunctionalInterface
    public interface RoundListener {
        void onRound(RoundMetrics metrics, float[] global);
    }
}
