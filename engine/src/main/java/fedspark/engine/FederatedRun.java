package fedspark.engine;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;

import fedspark.data.ClientShard;
import fedspark.models.FlatParameters;

/**
 * Federated training on Spark. One round is one Spark job over the sampled clients only:
 * <ol>
 *   <li>the driver samples m of K clients (seeded by the run seed and the round) and broadcasts the global parameters;</li>
 *   <li>a stage over the sampled clients' partitions only (the others cost nothing), one task per group of clients
 *       placed on the same executor ({@link ClientGroups}), runs the {@link ClientUpdate} on each client's cached
 *       shard in turn;</li>
 *   <li>a treeAggregate of {@link WeightedSum} returns sum(n_k * w_k) and n = sum(n_k) to the driver, which
 *       divides: the n_k / n weighted average;</li>
 *   <li>the {@link ServerStep} turns that average into the next global model, which is evaluated.</li>
 * </ol>
 */
public final class FederatedRun {

    private final JavaSparkContext jsc;
    private final JavaRDD<ClientShard> shards;
    private final int clients;
    private final ModelSpec model;
    private final TrainSettings settings;
    private final Strategy strategy;
    private final Evaluator evaluator;
    private int failFirstAttemptsInRound;

    /** {@code shards} must have one partition per client, partition k holding client k (see {@link ClientShardRDD}). */
    public FederatedRun(JavaSparkContext jsc, JavaRDD<ClientShard> shards, ModelSpec model, TrainSettings settings, Evaluator evaluator) {
        this.jsc = jsc;
        this.shards = shards;
        this.clients = shards.getNumPartitions();
        this.model = model;
        this.settings = settings;
        this.strategy = Strategy.of(settings, model);
        this.evaluator = evaluator;
    }

    /** The initial global model: the model's own initialisation from the run seed. */
    public float[] initialParameters() {
        return FlatParameters.of(model.newNetwork(settings.seed()));
    }

    /** Runs rounds {@code firstRound .. settings.rounds()} from {@code global}; returns the final parameters. */
    public float[] train(float[] global, int firstRound, RoundListener onRound) {
        float[] current = global;
        for (int round = firstRound; round <= settings.rounds(); round++) {
            long start = System.nanoTime();
            int[] sampled = ClientSampler.sample(clients, settings.sampledClients(clients), settings.seed(), round);
            WeightedSum sum = aggregate(current, sampled, round);
            if (sum.clients() == 0) {
                throw new IllegalStateException("round " + round + ": every sampled client " + Arrays.toString(sampled)
                        + " is empty; use a partitioning without empty clients");
            }
            current = strategy.serverStep().next(current, sum.average());
            double seconds = (System.nanoTime() - start) / 1e9;
            Evaluation test = evaluator.evaluate(current);
            onRound.onRound(new RoundMetrics(round, sum.clients(), sum.examples(), sum.meanLoss(), test.loss(),
                    test.accuracy(), seconds), current);
        }
        return current;
    }

    /**
     * Fault drill: every training task of {@code round} fails its first attempt, so Spark retries it (needs
     * spark.task.maxFailures >= 2, e.g. master local[2,2]; clusters default to 4). 0: never.
     */
    public FederatedRun failFirstAttemptsInRound(int round) {
        this.failFirstAttemptsInRound = round;
        return this;
    }

    /**
     * One round's Spark job: local updates of the sampled clients, in groups of clients per task
     * ({@link ClientGroups}), then the weighted sum. The job carries its round and its tasks' clients as
     * properties, for {@link PrivacyAudit}.
     */
    WeightedSum aggregate(float[] global, int[] sampled, int round) {
        Broadcast<float[]> parameters = jsc.broadcast(global);
        try {
            ClientUpdate update = strategy.clientUpdate();
            boolean failFirstAttempts = round == failFirstAttemptsInRound;
            // Client affinity where the clients are fedspark's own RDD (tests also train on other RDDs).
            ClientShardRDD placed = shards.rdd() instanceof ClientShardRDD clientShards ? clientShards : null;
            int parallelism = jsc.sc().defaultParallelism();
            ClientGroups groups = placed != null ? placed.groups(sampled, parallelism)
                    : ClientGroups.of(sampled, client -> null, client -> 0L, parallelism);
            RDD<ClientShard> chosen = groups.over(shards.rdd());
            WeightedSum sum = PrivacyAudit.tagged(jsc, round, groups, () -> chosen.toJavaRDD()
                    .mapPartitions((Iterator<ClientShard> clients) -> {
                        if (failFirstAttempts && TaskContext.get().attemptNumber() == 0) {
                            throw new IllegalStateException("fault drill: first attempt of task " + TaskContext.get().partitionId()
                                    + " in round " + round + " fails on purpose");
                        }
                        WeightedSum partial = WeightedSum.empty();
                        while (clients.hasNext()) {
                            partial.add(update.update(clients.next(), parameters.value(), round));
                        }
                        return List.of(partial).iterator();
                    })
                    .treeAggregate(WeightedSum.empty(), WeightedSum::merge, WeightedSum::merge, settings.aggregationDepth()));
            if (placed != null) {
                placed.remember(sum.served());
            }
            return sum;
        } finally {
            parameters.destroy();
        }
    }

    /** Told after every round: its metrics row and the new global parameters (not to be modified). */
    @FunctionalInterface
    public interface RoundListener {
        void onRound(RoundMetrics metrics, float[] global);
    }
}
