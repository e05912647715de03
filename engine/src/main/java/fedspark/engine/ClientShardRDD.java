package fedspark.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.Dependency;
import org.apache.spark.Partition;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import org.apache.spark.storage.BlockManagerId;

import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.reflect.ClassTag$;

/**
 * The clients as an RDD with one partition per client: partition k reads client k's shard from its own
 * directory into the executor's {@link ShardCache}, where it stays for that client's later rounds.
 *
 * <p>Client affinity: the driver places each client on an executor ({@link #place}), remembers where it was
 * served ({@link #remember}) and gives that executor as the partition's preferred location, so Spark's delay
 * scheduling sends the client's later tasks to the executor that already holds its shard, waiting up to
 * {@code spark.locality.wait} for it before letting another executor read the shard from storage. The shard
 * never goes through Spark's block manager, so no executor can fetch it from another.
 */
public final class ClientShardRDD extends RDD<ClientShard> {

    /** Marks this RDD's stage as a client stage for {@link PrivacyAudit}. */
    static final String NAME_PREFIX = "client shards of ";

    private final String root;
    private final int clients;
    private final int featureSize;
    private final int classes;
    // Broadcast once: a Hadoop Configuration shipped inside every task costs ~15 ms of deserialization per task.
    private final Broadcast<SerializableHadoopConf> hadoop;
    private final transient Map<Integer, Executor> placement = new ConcurrentHashMap<>();
    private final transient Map<Integer, Long> examples = new ConcurrentHashMap<>(); // n_k of the clients served so far

    public ClientShardRDD(SparkContext sc, Path root, int clients, int featureSize, int classes) {
        super(sc, JavaConverters.asScalaBuffer(new ArrayList<Dependency<?>>()).toSeq(), ClassTag$.MODULE$.apply(ClientShard.class));
        this.root = root.toString();
        this.clients = clients;
        this.featureSize = featureSize;
        this.classes = classes;
        this.hadoop = JavaSparkContext.fromSparkContext(sc).broadcast(new SerializableHadoopConf(sc.hadoopConfiguration()));
        setName(NAME_PREFIX + root);
    }

    @Override
    public Iterator<ClientShard> compute(Partition split, TaskContext context) {
        int client = split.index();
        ClientShard shard = ShardCache.shared().get(root + "#" + client,
                () -> readAsTaskInput(new Path(root), client, featureSize, classes, hadoop.value().get()));
        return scala.collection.Iterator$.MODULE$.single(shard);
    }

    /**
     * Reads a client's shard from storage in a task, the bytes it read counted as the task's input (Spark's input
     * metrics, which {@link PrivacyAudit} records): parquet-hadoop's reads bypass the input formats Spark measures.
     */
    public static ClientShard readAsTaskInput(Path root, int client, int featureSize, int classes, Configuration hadoop) {
        long before = bytesReadOnThisThread();
        ClientShard shard = ClientLayout.read(root, client, featureSize, classes, hadoop);
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.taskMetrics().inputMetrics().incBytesRead(bytesReadOnThisThread() - before);
        }
        return shard;
    }

    /** What this thread has read through Hadoop file systems, every scheme (as Spark measures its own readers). */
    @SuppressWarnings("deprecation")
    private static long bytesReadOnThisThread() {
        long bytes = 0;
        for (FileSystem.Statistics statistics : FileSystem.getAllStatistics()) {
            bytes += statistics.getThreadStatistics().getBytesRead();
        }
        return bytes;
    }

    @Override
    public Partition[] getPartitions() {
        Partition[] partitions = new Partition[clients];
        for (int k = 0; k < clients; k++) {
            partitions[k] = new ClientPartition(k);
        }
        return partitions;
    }

    @Override
    public Seq<String> getPreferredLocations(Partition split) {
        Executor placed = placement.get(split.index());
        List<String> locations = placed == null ? List.of() : List.of(placed.location());
        return JavaConverters.asScalaBuffer(locations).toSeq();
    }

    /**
     * Driver side, before a round: gives every sampled client without a live executor one, the live executor
     * holding the fewest clients. Every task then has a preferred executor: a task without one would let
     * Spark's scheduler hand other clients' tasks to any executor on the same host without waiting.
     * Returns the live executors.
     */
    private List<Executor> place(int[] sampled) {
        List<Executor> live = liveExecutors();
        Map<Executor, Integer> load = new HashMap<>();
        live.forEach(executor -> load.put(executor, 0));
        placement.values().forEach(executor -> load.computeIfPresent(executor, (e, n) -> n + 1));
        for (int client : sampled) {
            Executor current = placement.get(client);
            if (current != null && load.containsKey(current)) {
                continue;
            }
            Executor least = null;
            for (Executor executor : live) {
                if (least == null || load.get(executor) < load.get(least)) {
                    least = executor;
                }
            }
            if (least != null) {
                placement.put(client, least);
                load.merge(least, 1, Integer::sum);
            }
        }
        return live;
    }

    /**
     * Driver side: reads every client's shard into the cache of the executor it is placed on, before the first
     * round, so that rounds cost what their sampled clients compute and not first reads from storage, in groups of
     * clients per task slot. The job is tagged as round 0 for {@link PrivacyAudit}. Returns the clients loaded.
     */
    public long preload() {
        // in ranges of clients per task slot: a task per client would cost K tasks' scheduling
        ClientGroups groups = ClientGroups.ranges(clients, sparkContext().defaultParallelism());
        List<ServedClient> loaded = PrivacyAudit.tagged(JavaSparkContext.fromSparkContext(sparkContext()), 0, groups,
                () -> groups.over(this).toJavaRDD().map(shard -> ServedClient.here(shard.client(), shard.size())).collect());
        remember(loaded);
        return loaded.size();
    }

    /** Driver side, after a round: where each client was actually served (a task may have run elsewhere after the locality wait). */
    public void remember(List<ServedClient> served) {
        for (ServedClient client : served) {
            placement.put(client.client(), new Executor(client.executor(), client.host()));
            // a masked result (secure aggregation) reports no example count: keep the one the preload saw
            if (client.examples() > 0 || !examples.containsKey(client.client())) {
                examples.put(client.client(), client.examples());
            }
        }
    }

    /**
     * Driver side, before a round: places the sampled clients ({@link #place}) and groups each executor's into
     * at most {@code slots} tasks (its task slots: Spark's parallelism over the live executors).
     */
    ClientGroups groups(int[] sampled, int parallelism) {
        int slots = Math.max(1, parallelism / Math.max(1, place(sampled).size()));
        return ClientGroups.of(sampled, client -> placement.containsKey(client) ? placement.get(client).location() : null,
                client -> examples.getOrDefault(client, 0L), slots);
    }

    /** The executors registered with the driver now, ordered by id (in local mode: the driver). */
    private static List<Executor> liveExecutors() {
        Set<BlockManagerId> managers = JavaConverters.setAsJavaSet(SparkEnv.get().blockManager().master().getMemoryStatus().keySet());
        boolean localMode = managers.stream().allMatch(BlockManagerId::isDriver);
        List<Executor> executors = new ArrayList<>();
        for (BlockManagerId manager : managers) {
            if (localMode || !manager.isDriver()) {
                executors.add(new Executor(manager.executorId(), manager.host()));
            }
        }
        executors.sort(Comparator.comparing(Executor::id));
        return executors;
    }

    /** An executor, as Spark names it in a preferred location. */
    public record Executor(String id, String host) {
        /** Spark's location string for "cached on this executor" (ExecutorCacheTaskLocation). */
        String location() {
            return "executor_" + host + "_" + id;
        }
    }

    private record ClientPartition(int index) implements Partition {
    }
}
