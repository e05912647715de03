package fedspark.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.storage.RDDInfo;

import fedspark.engine.local.BlasKernel;

import scala.collection.JavaConverters;

/**
 * Watches the training jobs of a run (the jobs {@link FederatedRun} tags with their round and their tasks'
 * clients) and records, for every client of every task attempt, which executor served it, the task's locality,
 * and the bytes the task read and wrote through Spark. A client stage (one that computes {@link ClientShardRDD}) must read nothing
 * through a shuffle: such bytes would be raw examples moved between executors, which the design forbids.
 * Partial sums shuffled by a deep treeAggregate are model updates and are reported separately.
 */
public final class PrivacyAudit extends SparkListener {

    /** Job properties that tag a training job (see {@link #tagged}). */
    static final String ROUND = "fedspark.round";
    static final String CLIENTS = "fedspark.clients";
    /** CLIENTS of a job over every client: task k is client k (a list would travel inside every task). */
    private static final String EVERY_CLIENT = "all";

    /** One row per task attempt, with the clients it computed. */
    public static final String CSV_HEADER = "session,round,stage,task,kind,clients,attempt,executor,host,locality,status,input_bytes,"
            + "shuffle_read_local_bytes,shuffle_read_remote_bytes,shuffle_write_bytes,result_bytes,blas_kernel,encoded_update_bytes";

    /** The accumulator through which a client task reports the OpenBLAS kernels its executor runs ({@link BlasKernel}). */
    static final String BLAS_KERNEL = "fedspark.blas-kernel";
    /** The accumulator through which a client task reports what each of its clients sent, as encoded ("client=bytes"). */
    static final String ENCODED_BYTES = "fedspark.encoded-bytes";

    /** What happens when raw shard data went through Spark: the run fails (the default) or only warns. */
    public enum OnRawDataMovement { FAIL, WARN }

    /**
     * A task attempt of a training job (task: its index in the stage) and the clients it computed, as ascending
     * clients and ranges ("0-99 150"; empty for the tasks that merge partial sums): a row a task, so a round costs the
     * audit what its tasks are, and the preload what its files are, whatever K. Session: 1 for the driver that started the run, one more for each resume (stage numbers
     * start again in every driver). blasKernel: the OpenBLAS kernels of the executor (client tasks; empty otherwise).
     * encodedBytes: what the task's clients sent, as the logic layer encoded it (client tasks; -1 otherwise or when unknown).
     * Rows written before a row a task (a row a client, -1 for none) read as one-client rows.
     */
    public record TaskRow(int session, int round, int stage, int task, String kind, String clients, int attempt, String executor, String host,
                          String locality, String status, long inputBytes, long shuffleReadLocalBytes,
                          long shuffleReadRemoteBytes, long shuffleWriteBytes, long resultBytes, String blasKernel,
                          long encodedBytes) {

        public boolean isClientTask() {
            return kind.equals("client");
        }

        /** The clients the task computed. */
        public int[] clientList() {
            return ClientGroups.parseGroup(clients);
        }

        /** Bytes this task read through a shuffle: raw data moved between executors when it is a client task. */
        public long shuffleReadBytes() {
            return shuffleReadLocalBytes + shuffleReadRemoteBytes;
        }

        /** The task attempt this row belongs to (rows of older audits, a row a client: rows with the same one share its bytes). */
        public String taskAttempt() {
            return session + "." + stage + "." + task + "." + attempt;
        }

        String csv() {
            return String.join(",", Integer.toString(session), Integer.toString(round), Integer.toString(stage), Integer.toString(task),
                    kind, clients,
                    Integer.toString(attempt), executor, host, locality, status, Long.toString(inputBytes),
                    Long.toString(shuffleReadLocalBytes), Long.toString(shuffleReadRemoteBytes),
                    Long.toString(shuffleWriteBytes), Long.toString(resultBytes), blasKernel, Long.toString(encodedBytes));
        }

        static TaskRow parse(String line) {
            String[] f = line.split(",", -1);
            if (f.length < 16 || f.length > 18) { // 16: written before the kernel column, 17 before the encoded bytes
                throw new IllegalArgumentException("not an audit row: " + line);
            }
            return new TaskRow(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[4],
                    f[5].equals("-1") ? "" : f[5], Integer.parseInt(f[6]), f[7], f[8], f[9], f[10], Long.parseLong(f[11]),
                    Long.parseLong(f[12]), Long.parseLong(f[13]), Long.parseLong(f[14]), Long.parseLong(f[15]), f.length >= 17 ? f[16] : "",
                    f.length == 18 ? Long.parseLong(f[17]) : -1);
        }
    }

    /** clients[t]: the clients of task t, as {@link ClientGroups#describe(int[])} writes them; null: task k is client k. */
    private record StageOfRound(int round, String[] clients, boolean clientStage) {
    }

    private final Map<Integer, StageOfRound> stages = new ConcurrentHashMap<>();
    private final Map<Integer, Integer> roundOfJob = new ConcurrentHashMap<>();
    private final List<TaskRow> rows = new ArrayList<>();
    // What the checks after every round read, kept as rows arrive: a round's own rows, and each kernel's executors
    // (a scan of every row each round would grow with the run).
    private final Map<Integer, List<TaskRow>> rowsOfRound = new HashMap<>();
    private final Map<String, Set<String>> executorsOfKernel = new TreeMap<>();
    private final Set<Integer> finishedRounds = new HashSet<>();
    private final int session;

    /** An audit that goes on from the rows of an earlier part of the same run (resume), as the next session. */
    public PrivacyAudit(List<TaskRow> earlier) {
        earlier.forEach(this::add);
        session = 1 + earlier.stream().mapToInt(TaskRow::session).max().orElse(0);
    }

    private void add(TaskRow row) {
        rows.add(row);
        rowsOfRound.computeIfAbsent(row.round(), r -> new ArrayList<>()).add(row);
        if (row.isClientTask() && row.status().equals("success") && !row.blasKernel().isEmpty()) {
            executorsOfKernel.computeIfAbsent(row.blasKernel(), k -> new TreeSet<>()).add(row.session() + "." + row.executor());
        }
    }

    public PrivacyAudit() {
        this(List.of());
    }

    /**
     * Runs {@code job} with the Spark jobs it submits tagged as {@code round}'s, their task t computing the
     * clients of group t ({@code groups} null: task k computes client k).
     */
    static <T> T tagged(JavaSparkContext jsc, int round, ClientGroups groups, Supplier<T> job) {
        jsc.setLocalProperty(ROUND, Integer.toString(round));
        jsc.setLocalProperty(CLIENTS, groups == null ? EVERY_CLIENT : groups.describe());
        try {
            return job.get();
        } finally {
            jsc.setLocalProperty(ROUND, null);
            jsc.setLocalProperty(CLIENTS, null);
        }
    }

    @Override
    public void onJobStart(SparkListenerJobStart job) {
        Properties properties = job.properties();
        String round = properties == null ? null : properties.getProperty(ROUND);
        if (round == null) {
            return;
        }
        int r = Integer.parseInt(round);
        String listed = properties.getProperty(CLIENTS, "");
        String[] clients = listed.equals(EVERY_CLIENT) ? null : listed.isEmpty() ? new String[0] : listed.split(",", -1);
        roundOfJob.put(job.jobId(), r);
        for (StageInfo stage : JavaConverters.seqAsJavaList(job.stageInfos())) {
            boolean clientStage = false;
            for (RDDInfo rdd : JavaConverters.seqAsJavaList(stage.rddInfos())) {
                clientStage |= rdd.name() != null && rdd.name().startsWith(ClientShardRDD.NAME_PREFIX);
            }
            stages.put(stage.stageId(), new StageOfRound(r, clients, clientStage));
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        StageOfRound stage = stages.get(end.stageId());
        if (stage == null) {
            return;
        }
        TaskInfo info = end.taskInfo();
        TaskMetrics metrics = end.taskMetrics();
        String clients = !stage.clientStage() ? ""
                : stage.clients() == null ? Integer.toString(info.index())
                : info.index() < stage.clients().length ? stage.clients()[info.index()] : "";
        String status = info.successful() ? "success" : info.killed() ? "killed" : "failed";
        String kernel = "";
        long encoded = -1;
        for (AccumulableInfo accumulable : JavaConverters.seqAsJavaList(info.accumulables())) {
            if (accumulable.name().contains(BLAS_KERNEL) && accumulable.update().isDefined()
                    && accumulable.update().get() instanceof List<?> reported && !reported.isEmpty()) {
                kernel = reported.get(0).toString();
            }
            if (accumulable.name().contains(ENCODED_BYTES) && accumulable.update().isDefined()
                    && accumulable.update().get() instanceof List<?> reported) {
                for (Object entry : reported) {
                    encoded = Math.max(encoded, 0) + Long.parseLong(entry.toString().split("=")[1]);
                }
            }
        }
        synchronized (this) {
            add(new TaskRow(session, stage.round(), end.stageId(), info.index(), stage.clientStage() ? "client" : "merge", clients,
                    info.attemptNumber(), info.executorId(), info.host(), info.taskLocality().toString(), status,
                    metrics == null ? 0 : metrics.inputMetrics().bytesRead(),
                    metrics == null ? 0 : metrics.shuffleReadMetrics().localBytesRead(),
                    metrics == null ? 0 : metrics.shuffleReadMetrics().remoteBytesRead(),
                    metrics == null ? 0 : metrics.shuffleWriteMetrics().bytesWritten(),
                    metrics == null ? 0 : metrics.resultSize(), kernel, encoded));
        }
    }

    @Override
    public void onJobEnd(SparkListenerJobEnd end) {
        Integer round = roundOfJob.remove(end.jobId());
        if (round != null) {
            synchronized (this) {
                finishedRounds.add(round);
                notifyAll();
            }
        }
    }

    /** How long {@link #awaitRound} waits for Spark's listener bus. */
    static final long WAIT_MILLIS = 60_000;

    /**
     * Waits until the listener bus has delivered the end of {@code round}'s job (events arrive asynchronously);
     * says so on {@code log} if it did not within a minute.
     */
    public synchronized void awaitRound(int round, Consumer<String> log) {
        long deadline = System.currentTimeMillis() + WAIT_MILLIS;
        while (!finishedRounds.contains(round)) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                log.accept("audit: Spark's events for round " + round + " did not arrive within " + WAIT_MILLIS / 1000
                        + " s; the audit may miss some of its tasks");
                return;
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Notes that {@code round} ran no Spark job (no client was sampled), so that nobody waits for its events. */
    public synchronized void roundWithoutJob(int round) {
        finishedRounds.add(round);
        notifyAll();
    }

    /** Fails with {@link RawDataMoved} (or, with WARN, logs) when a client task of {@code round} read raw data through Spark. */
    public void enforce(int round, OnRawDataMovement policy, Consumer<String> log) {
        String moved = rawDataMovement(round);
        if (moved == null) {
            return;
        }
        if (policy == OnRawDataMovement.FAIL) {
            throw new RawDataMoved(moved + " (audit.raw-data-movement = fail)");
        }
        log.accept("WARNING audit: " + moved);
    }

    /** The audit saw raw client data move between executors. */
    public static final class RawDataMoved extends RuntimeException {
        RawDataMoved(String message) {
            super(message);
        }
    }

    public synchronized List<TaskRow> rows() {
        return List.copyOf(rows);
    }

    /** Client tasks of {@code round} that read raw data through a shuffle, described; null when there are none. */
    public synchronized String rawDataMovement(int round) {
        Map<String, List<TaskRow>> movedByTask = new TreeMap<>();
        for (TaskRow row : rowsOfRound.getOrDefault(round, List.of())) {
            if (row.isClientTask() && row.shuffleReadBytes() > 0) {
                movedByTask.computeIfAbsent(row.taskAttempt(), t -> new ArrayList<>()).add(row);
            }
        }
        List<String> moved = new ArrayList<>();
        movedByTask.forEach((task, clientRows) -> {
            TaskRow row = clientRows.get(0);
            int[] clients = clientRows.stream().flatMapToInt(r -> Arrays.stream(r.clientList())).sorted().toArray();
            moved.add((clients.length == 1 ? "client " : "clients ") + ClientGroups.describe(clients)
                    + " on executor " + row.executor() + " read " + row.shuffleReadBytes()
                    + " bytes through a shuffle (" + row.shuffleReadRemoteBytes() + " remote)");
        });
        return moved.isEmpty() ? null : "round " + round + ": raw client data moved between executors: " + String.join("; ", moved)
                + ". Client shards must be read by their own task from storage (fedspark.engine.ClientShardRDD).";
    }

    public synchronized String csv() {
        StringBuilder csv = new StringBuilder(CSV_HEADER).append('\n');
        for (TaskRow row : rows) {
            csv.append(row.csv()).append('\n');
        }
        return csv.toString();
    }

    public static List<TaskRow> parseCsv(String csv) {
        List<TaskRow> parsed = new ArrayList<>();
        String[] lines = csv.split("\n");
        for (int i = 1; i < lines.length; i++) {
            if (!lines[i].isBlank()) {
                parsed.add(TaskRow.parse(lines[i]));
            }
        }
        return parsed;
    }

    /**
     * Why bitwise equality with other runs cannot hold, when the executors that trained clients (over every session
     * of the run) used different OpenBLAS kernels: each kernel orders float sums its own way. Null when they match.
     */
    public synchronized String kernelMismatch() {
        if (executorsOfKernel.size() <= 1) {
            return null;
        }
        return "executors used different OpenBLAS kernels (" + executorsOfKernel.entrySet().stream()
                .map(e -> e.getKey() + " on " + String.join(" ", e.getValue())).collect(Collectors.joining("; "))
                + "): this run's models cannot equal bit for bit those of a run on one kernel. Set OPENBLAS_CORETYPE alike "
                + "for every executor (spark.executorEnv.OPENBLAS_CORETYPE).";
    }

    private boolean kernelMismatchReported;

    /** Logs {@link #kernelMismatch()} the first time there is one. */
    public synchronized void reportKernelMismatch(Consumer<String> log) {
        String mismatch = kernelMismatch();
        if (mismatch != null && !kernelMismatchReported) {
            kernelMismatchReported = true;
            log.accept("WARNING audit: " + mismatch);
        }
    }

    /** The audit's totals, HOCON like the other summaries a run folder holds. */
    public synchronized String summary() {
        Set<Integer> rounds = new HashSet<>();
        Set<Integer> sessions = new HashSet<>();
        long clientTasks = 0;
        Set<String> counted = new HashSet<>(); // task attempts whose bytes are in the totals
        long clientUpdates = 0;
        long unsuccessfulAttempts = 0;
        long rawBytes = 0;
        long updateBytesShuffled = 0;
        long updateBytesToDriver = 0;
        long encodedBytes = 0;
        Map<String, Integer> locality = new TreeMap<>();
        Map<String, Set<Integer>> clientsOfExecutor = new TreeMap<>();
        Map<String, Set<String>> kernelsOfExecutor = new TreeMap<>(); // "session.executor" -> kernels
        Map<Integer, String> lastExecutor = new HashMap<>();
        Set<Integer> movedClients = new HashSet<>();
        int affinityMisses = 0;
        for (TaskRow row : rows) {
            rounds.add(row.round());
            sessions.add(row.session());
            boolean firstRowOfTask = counted.add(row.taskAttempt());
            if (!row.status().equals("success")) {
                unsuccessfulAttempts += firstRowOfTask ? 1 : 0;
                continue;
            }
            if (row.isClientTask()) {
                int[] clients = row.clientList();
                clientUpdates += clients.length;
                encodedBytes += Math.max(0, row.encodedBytes());
                if (firstRowOfTask) {
                    clientTasks++;
                    rawBytes += row.shuffleReadBytes();
                    locality.merge(row.locality(), 1, Integer::sum);
                }
                Set<Integer> served = clientsOfExecutor.computeIfAbsent(row.executor(), e -> new HashSet<>());
                if (!row.blasKernel().isEmpty()) {
                    kernelsOfExecutor.computeIfAbsent(row.session() + "." + row.executor(), e -> new TreeSet<>()).add(row.blasKernel());
                }
                for (int client : clients) {
                    served.add(client);
                    String previous = lastExecutor.put(client, row.executor());
                    if (previous != null && !previous.equals(row.executor())) {
                        affinityMisses++;
                        movedClients.add(client);
                    }
                }
            }
            // A task either writes its partial sum to a shuffle (deep treeAggregate) or sends it with its result.
            if (!firstRowOfTask) {
                continue;
            } else if (row.shuffleWriteBytes() > 0) {
                updateBytesShuffled += row.shuffleWriteBytes();
            } else {
                updateBytesToDriver += row.resultBytes();
            }
        }
        StringBuilder out = new StringBuilder();
        out.append("# What the training jobs moved, from Spark's task metrics (audit.csv has every task attempt).\n");
        out.append("rounds = ").append(rounds.size()).append('\n');
        out.append("# Drivers that ran the rounds: the one that started the run and one for each resume (each preloads its clients: round 0).\n");
        out.append("sessions = ").append(sessions.size()).append('\n');
        out.append("client-tasks = ").append(clientTasks).append('\n');
        out.append("client-updates = ").append(clientUpdates).append('\n');
        out.append("unsuccessful-attempts = ").append(unsuccessfulAttempts).append('\n');
        out.append("# Bytes client tasks read through a shuffle: raw examples moved between executors. Must be 0.\n");
        out.append("raw-data-bytes-between-executors = ").append(rawBytes).append('\n');
        out.append("# Model updates: partial sums shuffled by a deep treeAggregate, and results sent to the driver.\n");
        out.append("update-bytes-shuffled = ").append(updateBytesShuffled).append('\n');
        out.append("update-bytes-to-driver = ").append(updateBytesToDriver).append('\n');
        out.append("# What the clients sent as the logic layer encodes it (4 bytes a float unless compressed), summed over client updates.\n");
        out.append("update-bytes-encoded = ").append(encodedBytes).append('\n');
        out.append("client-task-locality { ");
        locality.forEach((level, n) -> out.append(level).append(" = ").append(n).append(", "));
        out.append("}\n");
        out.append("clients-per-executor { ");
        clientsOfExecutor.forEach((executor, clients) -> out.append('"').append(executor).append("\" = ").append(clients.size()).append(", "));
        out.append("}\n");
        out.append("# A client served by another executor than in its previous round (its shard read again from storage).\n");
        out.append("affinity-misses = ").append(affinityMisses).append('\n');
        out.append("clients-that-moved = ").append(movedClients.size()).append('\n');
        out.append("# The kernels of each executor that trained clients (\"session.executor\"): OpenBLAS's, and oneDNN's instruction set\n"
                + "# where the lean local step runs; and whether they all match.\n");
        out.append("blas-kernels { ");
        kernelsOfExecutor.forEach((executor, kernels) -> out.append('"').append(executor).append("\" = \"").append(String.join(" ", kernels))
                .append("\", "));
        out.append("}\n");
        out.append("blas-kernels-match = ").append(kernelMismatch() == null).append('\n');
        return out.toString().replace(", }", " }");
    }
}
