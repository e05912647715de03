package fedspark.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.IntToLongFunction;
import java.util.stream.Collectors;

import org.apache.spark.Partition;
import org.apache.spark.rdd.PartitionGroup;
import org.apache.spark.rdd.RDD;

import scala.Option;

/**
 * The tasks of a round: the sampled clients in groups, each group one task that trains its clients one after
 * another on the executor holding their shards. A task per client costs Spark's scheduling, result and
 * merge work once per client; a group per task slot pays it once per slot (a 2NN round at B = 50: 15%
 * faster). The clients of an executor are split into at most {@code slotsPerExecutor} groups of about equal
 * work (largest client first into the lightest group, by n_k where it is known).
 *
 * <p>The groups only decide which task computes which client: each client still trains alone from the global
 * model, and the fixed-point sum makes the average the same bit for bit however they are grouped.
 *
 * @param clients   clients[t]: the clients task t trains, ascending
 * @param locations locations[t]: Spark's preferred location of task t (an executor), or null
 */
record ClientGroups(int[][] clients, String[] locations) {

    /**
     * Groups {@code sampled} by {@code locationOf} (null: no preference, one pool), each location's clients
     * into at most {@code slotsPerLocation} groups balanced by {@code examplesOf} (0 when unknown).
     */
    static ClientGroups of(int[] sampled, IntFunction<String> locationOf, IntToLongFunction examplesOf, int slotsPerLocation) {
        if (slotsPerLocation < 1) {
            throw new IllegalArgumentException("slots per location must be at least 1, got " + slotsPerLocation);
        }
        Map<String, List<Integer>> byLocation = new LinkedHashMap<>();
        int[] ordered = sampled.clone();
        Arrays.sort(ordered);
        for (int client : ordered) {
            byLocation.computeIfAbsent(locationOf.apply(client), location -> new ArrayList<>()).add(client);
        }
        List<int[]> groups = new ArrayList<>();
        List<String> locations = new ArrayList<>();
        byLocation.forEach((location, clients) -> {
            int count = Math.min(slotsPerLocation, clients.size());
            List<List<Integer>> members = new ArrayList<>();
            long[] load = new long[count];
            for (int g = 0; g < count; g++) {
                members.add(new ArrayList<>());
            }
            List<Integer> largestFirst = new ArrayList<>(clients);
            largestFirst.sort(Comparator.comparingLong((Integer c) -> -examplesOf.applyAsLong(c)).thenComparingInt(c -> c));
            for (int client : largestFirst) {
                int lightest = 0;
                for (int g = 1; g < count; g++) {
                    if (load[g] < load[lightest] || (load[g] == load[lightest] && members.get(g).size() < members.get(lightest).size())) {
                        lightest = g;
                    }
                }
                members.get(lightest).add(client);
                load[lightest] += examplesOf.applyAsLong(client);
            }
            for (List<Integer> group : members) {
                groups.add(group.stream().mapToInt(Integer::intValue).sorted().toArray());
                locations.add(location);
            }
        });
        return new ClientGroups(groups.toArray(int[][]::new), locations.toArray(String[]::new));
    }

    int tasks() {
        return clients.length;
    }

    /**
     * {@code perClient} (one partition per client, partition k = client k) narrowed to these groups: partition t
     * computes the clients of group t, preferring its location. No data moves: each group reads its clients'
     * partitions where it runs (a narrow dependency; unsampled clients are not computed).
     */
    <T> RDD<T> over(RDD<T> perClient) {
        return perClient.coalesce(tasks(), false, Option.apply(new Coalescer(clients, locations)), null);
    }

    /**
     * Task after task (commas between), its clients in {@link #describe(int[])}'s form (the {@link PrivacyAudit} job
     * property; {@link #parse} reads it back).
     */
    String describe() {
        return Arrays.stream(clients).map(ClientGroups::describe).collect(java.util.stream.Collectors.joining(","));
    }

    /** Ascending clients separated by spaces, consecutive ones as a range "first-last": "0-99 150 152-153". */
    static String describe(int[] group) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < group.length; ) {
            int j = i;
            while (j + 1 < group.length && group[j + 1] == group[j] + 1) {
                j++;
            }
            out.append(i > 0 ? " " : "").append(group[i]);
            if (j > i) {
                out.append('-').append(group[j]);
            }
            i = j + 1;
        }
        return out.toString();
    }

    /** The clients of each task, from {@link #describe()}'s text. */
    static int[][] parse(String described) {
        if (described.isEmpty()) {
            return new int[0][];
        }
        return Arrays.stream(described.split(",", -1)).map(ClientGroups::parseGroup).toArray(int[][]::new);
    }

    /** The clients of one group, from {@link #describe(int[])}'s text. */
    static int[] parseGroup(String group) {
        return Arrays.stream(group.split(" ")).filter(token -> !token.isEmpty()).flatMapToInt(token -> {
            int dash = token.indexOf('-');
            return dash < 0 ? java.util.stream.IntStream.of(Integer.parseInt(token))
                    : java.util.stream.IntStream.rangeClosed(Integer.parseInt(token.substring(0, dash)), Integer.parseInt(token.substring(dash + 1)));
        }).toArray();
    }

    /** Spark's hook for choosing coalesced partitions: here, exactly the groups. */
    private record Coalescer(int[][] clients, String[] locations) implements SerializableCoalescer {
        @Override
        public PartitionGroup[] coalesce(int maxPartitions, RDD<?> parent) {
            Partition[] partitions = parent.partitions();
            PartitionGroup[] groups = new PartitionGroup[clients.length];
            for (int t = 0; t < clients.length; t++) {
                groups[t] = new PartitionGroup(Option.apply(locations[t]));
                for (int client : clients[t]) {
                    groups[t].partitions().$plus$eq(partitions[client]);
                }
            }
            return groups;
        }
    }
}
