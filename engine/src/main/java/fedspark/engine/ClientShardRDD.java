package fedspark.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

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

import fedspark.data.ClientIndex;
import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;

/**
 * The clients as an RDD with one partition per client: partition k reads client k's rows of its file (where the
 * partitioning's {@link ClientIndex} puts them, carried by the partition) into the executor's {@link ShardCache}, where
 * they stay for that client's later rounds.
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
    private final String[] files; // the index's file names; each partition carries its client's file, first row and n_k
    // Broadcast once: a Hadoop Configuration shipped inside every task costs ~15 ms of deserialization per task.
    private final Broadcast<SerializableHadoopConf> hadoop;
    // Driver side, O(K) numbers (20 bytes a client for the index, 4 for the placement): where each client's rows are, and its cache.
    private final transient ClientIndex index;
    private final transient long[] sizes;
    private final transient int[] placement; // placement[k]: index into executors, -1 when not placed
    private final transient List<Executor> executors = new ArrayList<>();
    private final transient List<Integer> placedOn = new ArrayList<>(); // placedOn[e]: clients placed on executors[e], kept as placement changes

    /** The partitioning at {@code root}, of {@code clients} clients (its client index says where each one's rows are). */
    public ClientShardRDD(SparkContext sc, Path root, int clients, int featureSize, int classes) {
        this(sc, root, ClientIndex.read(root, sc.hadoopConfiguration()), clients, featureSize, classes);
    }

    /** The partitioning at {@code root} whose client index the caller has read already. */
    public ClientShardRDD(SparkContext sc, Path root, ClientIndex index, int clients, int featureSize, int classes) {
        super(sc, scalaList(new ArrayList<Dependency<?>>()), ClassTag$.MODULE$.apply(ClientShard.class));
        this.root = root.toString();
        this.clients = clients;
        this.featureSize = featureSize;
        this.classes = classes;
        this.index = index;
        if (index.clients() != clients) {
            throw new fedspark.data.BadInputException(root + ": its client index lists " + index.clients() + " clients, expected " + clients);
        }
        this.files = index.files();
        this.sizes = index.size();
        this.placement = new int[clients];
        Arrays.fill(placement, -1);
        this.hadoop = JavaSparkContext.fromSparkContext(sc).broadcast(new SerializableHadoopConf(sc.hadoopConfiguration()));
        setName(NAME_PREFIX + root);
    }

    @Override
    public Iterator<ClientShard> compute(Partition split, TaskContext context) {
        return scala.collection.Iterator$.MODULE$.single(shard((ClientPartition) split, root, files, featureSize, classes, hadoop));
    }

    /** Executor side: the client's shard from this executor's cache, read from storage on a first visit. */
    private static ClientShard shard(ClientPartition client, String root, String[] files, int featureSize, int classes,
                                     Broadcast<SerializableHadoopConf> hadoop) {
        return ShardCache.shared().get(cacheKey(root, client.index()), () -> readAsTaskInput(() -> client.file() < 0
                ? ClientShard.empty(client.index(), featureSize)
                : ClientLayout.read(new Path(root, files[client.file()]), client.index(), client.firstRow(), client.size(), featureSize, classes,
                        hadoop.value().get())));
    }

    /** The number of clients (the partitions of this RDD), without building its K partitions. */
    public int clients() {
        return clients;
    }

    /**
     * A round's RDD: a partition a task of {@code groups}, holding its clients' places in storage and preferring its
     * location, and no dependency on this RDD, so Spark's scheduler and the driver handle the sampled clients only,
     * never the K partitions of all of them (at K = 10 million those alone are hundreds of MB of driver heap).
     */
    RDD<ClientShard> round(ClientGroups groups) {
        RoundPartition[] tasks = new RoundPartition[groups.tasks()];
        for (int t = 0; t < tasks.length; t++) {
            int[] members = groups.clients()[t];
            ClientPartition[] clientsOfTask = new ClientPartition[members.length];
            for (int i = 0; i < members.length; i++) {
                int k = members[i];
                clientsOfTask[i] = new ClientPartition(k, index.file()[k], index.firstRow()[k], index.size()[k]);
            }
            tasks[t] = new RoundPartition(t, clientsOfTask, groups.locations()[t]);
        }
        return new RoundRDD(sparkContext(), tasks, root, files, featureSize, classes, hadoop);
    }

    /** Task {@code index} of a round: its clients, and the executor it prefers (null: none). */
    private record RoundPartition(int index, ClientPartition[] clients, String location) implements Partition {
    }

    /** See {@link #round}. */
    private static final class RoundRDD extends RDD<ClientShard> {
        private final transient RoundPartition[] tasks;
        private final String root;
        private final String[] files;
        private final int featureSize;
        private final int classes;
        private final Broadcast<SerializableHadoopConf> hadoop;

        RoundRDD(SparkContext sc, RoundPartition[] tasks, String root, String[] files, int featureSize, int classes,
                 Broadcast<SerializableHadoopConf> hadoop) {
            super(sc, scalaList(new ArrayList<Dependency<?>>()), ClassTag$.MODULE$.apply(ClientShard.class));
            this.tasks = tasks;
            this.root = root;
            this.files = files;
            this.featureSize = featureSize;
            this.classes = classes;
            this.hadoop = hadoop;
            setName(NAME_PREFIX + root); // a client stage, for the audit
        }

        @Override
        public Partition[] getPartitions() {
            return tasks.clone();
        }

        @Override
        public scala.collection.immutable.List<String> getPreferredLocations(Partition split) {
            String location = ((RoundPartition) split).location();
            return scalaList(location == null ? List.<String>of() : List.of(location));
        }

        @Override
        public Iterator<ClientShard> compute(Partition split, TaskContext context) {
            ClientPartition[] members = ((RoundPartition) split).clients();
            return JavaConverters.asScalaIterator(Arrays.stream(members)
                    .map(client -> shard(client, root, files, featureSize, classes, hadoop)).iterator());
        }
    }

    private static String cacheKey(String root, int client) {
        return root + "#" + client;
    }

    /**
     * Reads from storage in a task, the bytes it read counted as the task's input (Spark's input metrics, which
     * {@link PrivacyAudit} records): parquet-hadoop's reads bypass the input formats Spark measures.
     */
    public static <T> T readAsTaskInput(Supplier<T> read) {
        long before = bytesReadOnThisThread();
        T result = read.get();
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.taskMetrics().inputMetrics().incBytesRead(bytesReadOnThisThread() - before);
        }
        return result;
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
            partitions[k] = new ClientPartition(k, index.file()[k], index.firstRow()[k], index.size()[k]);
        }
        return partitions;
    }

    @Override
    public synchronized scala.collection.immutable.List<String> getPreferredLocations(Partition split) {
        int placed = placement[split.index()];
        List<String> locations = placed < 0 ? List.of() : List.of(executors.get(placed).location());
        return scalaList(locations);
    }

    /** The id of {@code executor} in {@link #executors}, added when new. */
    private int executorId(Executor executor) {
        int id = executors.indexOf(executor);
        if (id < 0) {
            executors.add(executor);
            placedOn.add(0);
            id = executors.size() - 1;
        }
        return id;
    }

    /** Places {@code client} on executor {@code executor}, keeping the executors' counts. */
    private void setPlacement(int client, int executor) {
        int before = placement[client];
        if (before >= 0) {
            placedOn.set(before, placedOn.get(before) - 1);
        }
        placement[client] = executor;
        placedOn.set(executor, placedOn.get(executor) + 1);
    }

    /**
     * Driver side, before a round: gives every sampled client without a live executor one, the live executor
     * holding the fewest clients. Every task then has a preferred executor: a task without one would let
     * Spark's scheduler hand other clients' tasks to any executor on the same host without waiting.
     * Returns the live executors.
     */
    private synchronized List<Executor> place(int[] sampled) {
        List<Executor> live = liveExecutors();
        Map<Executor, Integer> load = new HashMap<>(); // the clients each live executor holds: no pass over the K clients
        live.forEach(executor -> {
            int id = executors.indexOf(executor);
            load.put(executor, id < 0 ? 0 : placedOn.get(id));
        });
        for (int client : sampled) {
            int current = placement[client];
            if (current >= 0 && load.containsKey(executors.get(current))) {
                continue;
            }
            Executor least = null;
            for (Executor executor : live) {
                if (least == null || load.get(executor) < load.get(least)) {
                    least = executor;
                }
            }
            if (least != null) {
                setPlacement(client, executorId(least));
                load.merge(least, 1, Integer::sum);
            }
        }
        return live;
    }

    /**
     * Driver side: reads every client's shard into the cache of the executor that reads it, before the first round, so
     * that rounds cost what their sampled clients compute and not first reads from storage: a task per file of the
     * partitioning, reading the file's rows once (its clients, all of them, and nothing else). The job is tagged as
     * round 0 for {@link PrivacyAudit}. Returns the clients loaded.
     */
    public long preload() {
        int[][] byFile = index.clientsByFile();
        List<FileClients> tasks = new ArrayList<>();
        for (int f = 0; f < byFile.length; f++) {
            int[] members = byFile[f];
            long[] firstRows = new long[members.length];
            for (int i = 0; i < members.length; i++) {
                firstRows[i] = index.firstRow()[members[i]];
            }
            long[] memberSizes = Arrays.stream(members).mapToLong(k -> sizes[k]).toArray();
            tasks.add(new FileClients(f, members, firstRows, memberSizes));
        }
        ClientGroups groups = new ClientGroups(tasks.stream().map(FileClients::clients).toArray(int[][]::new), new String[tasks.size()]);
        String rootName = root;
        String[] fileNames = files;
        int d = featureSize;
        int labels = classes;
        Broadcast<SerializableHadoopConf> conf = hadoop;
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sparkContext());
        List<ServedFile> loaded = PrivacyAudit.tagged(jsc, 0, groups, () -> {
            var job = jsc.parallelize(tasks, Math.max(1, tasks.size()));
            job.setName(NAME_PREFIX + rootName); // a client stage, for the audit
            return job.map(file -> {
                List<ClientShard> shards = readAsTaskInput(() -> ClientLayout.read(new Path(rootName, fileNames[file.file()]), file.clients(),
                        file.firstRows(), file.sizes(), d, labels, conf.value().get()));
                for (ClientShard shard : shards) {
                    ShardCache.shared().get(cacheKey(rootName, shard.client()), () -> shard);
                }
                ServedClient here = ServedClient.here(-1, 0);
                return new ServedFile(here.executor(), here.host(), file.clients());
            }).collect();
        });
        long count = 0;
        synchronized (this) {
            for (ServedFile file : loaded) {
                int executor = executorId(new Executor(file.executor(), file.host()));
                for (int client : file.clients()) {
                    setPlacement(client, executor);
                }
                count += file.clients().length;
            }
        }
        return count;
    }

    /** A preload task: file {@code file}'s clients, where their rows start and how many there are. */
    private record FileClients(int file, int[] clients, long[] firstRows, long[] sizes) implements java.io.Serializable {
    }

    /** What a preload task loaded, and where. */
    private record ServedFile(String executor, String host, int[] clients) implements java.io.Serializable {
    }

    /** Driver side, after a round: where each client was actually served (a task may have run elsewhere after the locality wait). */
    public synchronized void remember(List<ServedClient> served) {
        for (ServedClient client : served) {
            setPlacement(client.client(), executorId(new Executor(client.executor(), client.host())));
        }
    }

    /**
     * Driver side, before a round: places the sampled clients ({@link #place}) and groups each executor's into
     * at most {@code slots} tasks (its task slots: Spark's parallelism over the live executors).
     */
    ClientGroups groups(int[] sampled, int parallelism) {
        int slots = Math.max(1, parallelism / Math.max(1, place(sampled).size()));
        synchronized (this) {
            return ClientGroups.of(sampled, client -> placement[client] < 0 ? null : executors.get(placement[client]).location(),
                    client -> sizes[client], slots);
        }
    }

    /**
     * {@code values} as an immutable Scala list: what Spark's RDD constructor and getPreferredLocations take on
     * Scala 2.13 (immutable.Seq) and accept on 2.12 (collection.Seq).
     */
    private static <T> scala.collection.immutable.List<T> scalaList(List<T> values) {
        return JavaConverters.asScalaBuffer(values).toList();
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

    /** Client {@code index}: rows {@code firstRow .. firstRow + size - 1} of file {@code file} (-1: no examples). */
    private record ClientPartition(int index, int file, long firstRow, long size) implements Partition {
    }
}
