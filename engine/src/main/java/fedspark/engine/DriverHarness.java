package fedspark.engine;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;

import fedspark.data.ClientIndex;

/**
 * What the driver does per round at a given K, without training data: a client index of K clients over a number of
 * files (names only), the clients RDD over it, and per round the sampling, the placement of the sampled clients, their
 * task groups, a Spark job over the round's RDD whose tasks read nothing (each reports its clients as served, as a
 * training task does), the driver remembering where they were served, and the privacy audit of the round (awaited,
 * checked for raw data moved and for kernel mismatches, as a run does after every round). What it measures is the
 * driver's: its heap after a full GC and its seconds a round.
 */
public final class DriverHarness {

    /**
     * The driver's live heap (bytes, after a full GC) before the index was built, with the index alone and after the
     * rounds; the rounds' seconds.
     */
    public record Result(int clients, int sampled, long heapBefore, long heapWithIndex, long heapAfterRounds, double[] roundSeconds) {
        public double medianSeconds() {
            return new org.apache.commons.math3.stat.descriptive.rank.Median().evaluate(roundSeconds);
        }

        /**
         * The heap the index and the rounds added, measured within this run: other work in the JVM (earlier jobs'
         * objects Spark's cleaner lets go of as new jobs run) moves its heap between runs by megabytes.
         */
        public long indexBytes() {
            return heapWithIndex - heapBefore;
        }

        public long afterRoundsBytes() {
            return heapAfterRounds - heapBefore;
        }
    }

    private DriverHarness() {
    }

    /** {@code rounds} rounds of {@code sampled} of {@code clients} clients, the clients dealt in order to {@code files} files. */
    public static Result run(JavaSparkContext jsc, int clients, int files, int sampled, int rounds, long seed, Consumer<String> log) {
        long heapBefore = liveHeap();
        String[] names = new String[files];
        for (int f = 0; f < files; f++) {
            names[f] = String.format("part-%05d.parquet", f);
        }
        int[] file = new int[clients];
        long[] firstRow = new long[clients];
        long[] size = new long[clients];
        int perFile = (clients + files - 1) / files;
        for (int k = 0; k < clients; k++) {
            file[k] = k / perFile;
            firstRow[k] = (long) (k % perFile) * 10;
            size[k] = 10;
        }
        ClientShardRDD all = new ClientShardRDD(jsc.sc(), new Path("/nonexistent/driver-harness"),
                new ClientIndex(names, file, firstRow, size), clients, 1, 2);
        long heapWithIndex = liveHeap();
        log.accept(String.format("K=%,d clients in %,d files: live heap %.1f MB with the index", clients, files, heapWithIndex / 1e6));
        PrivacyAudit audit = new PrivacyAudit();
        jsc.sc().addSparkListener(audit);
        double[] seconds = new double[rounds];
        try {
            int parallelism = jsc.sc().defaultParallelism();
            for (int round = 1; round <= rounds; round++) {
                long start = System.nanoTime();
                int[] chosen = ClientSampler.sample(clients, sampled, seed, round);
                ClientGroups groups = all.groups(chosen, parallelism);
                int[][] taskClients = groups.clients();
                List<ServedClient> served = PrivacyAudit.tagged(jsc, round, groups, () -> all.round(groups).toJavaRDD()
                        .mapPartitionsWithIndex((task, unread) -> {
                            // the task's clients as served, their shards unread: reading them is training's work
                            List<ServedClient> here = new ArrayList<>();
                            for (int client : taskClients[task]) {
                                here.add(ServedClient.here(client, 10));
                            }
                            return here.iterator();
                        }, false).collect());
                all.remember(served);
                audit.awaitRound(round, log);
                audit.enforce(round, PrivacyAudit.OnRawDataMovement.FAIL, log);
                audit.reportKernelMismatch(log);
                seconds[round - 1] = (System.nanoTime() - start) / 1e9;
            }
        } finally {
            jsc.sc().removeSparkListener(audit);
        }
        long heapAfterRounds = liveHeap();
        Result result = new Result(clients, sampled, heapBefore, heapWithIndex, heapAfterRounds, seconds);
        log.accept(String.format("K=%,d, %,d sampled a round, %d rounds: median %.4f s a round on the driver; live heap %.1f MB after them",
                clients, sampled, rounds, result.medianSeconds(), heapAfterRounds / 1e6));
        // keep the RDD (and its index) reachable until the heap was measured
        if (all.clients() != clients) {
            throw new IllegalStateException("the clients RDD lost its clients");
        }
        return result;
    }

    /** The heap in use after a full GC (bytes). */
    private static long liveHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
