package fedspark.partition;

import java.io.Serializable;

/**
 * Which client each rank goes to, for examples sorted into groups (one group per label, or a single
 * group): within group g, the ranks are cut into consecutive segments, segment i going to
 * {@code clients[g][i]} and ending (exclusive) at {@code ends[g][i]}. A client of -1 leaves its
 * examples out. Small (groups x segments), built on the driver, shipped to the tasks.
 */
final class SegmentPlan implements Serializable {

    private final long[] groupStarts; // groupStarts[g]: rank of the first example of group g
    private final int[][] clients;
    private final long[][] ends;

    SegmentPlan(long[] groupSizes, int[][] clients, long[][] ends) {
        this.groupStarts = new long[groupSizes.length];
        for (int g = 1; g < groupSizes.length; g++) {
            groupStarts[g] = groupStarts[g - 1] + groupSizes[g - 1];
        }
        for (int g = 0; g < groupSizes.length; g++) {
            long last = ends[g].length == 0 ? 0 : ends[g][ends[g].length - 1];
            if (groupSizes[g] > 0 && last < groupSizes[g]) {
                throw new IllegalStateException("group " + g + ": segments end at " + last + " of " + groupSizes[g]);
            }
        }
        this.clients = clients;
        this.ends = ends;
    }

    /** One group whose segments have the given sizes, segment i going to client owners[i]. */
    static SegmentPlan single(long n, int[] owners, long[] sizes) {
        return new SegmentPlan(new long[] {n}, new int[][] {owners}, new long[][] {cumulative(sizes)});
    }

    int client(long rank) {
        int g = firstAbove(groupStarts, rank) - 1; // the last group starting at or before rank (skips empty groups)
        return clients[g][firstAbove(ends[g], rank - groupStarts[g])];
    }

    /** The first index whose value is above {@code x} in an ascending array (its length if none). */
    private static int firstAbove(long[] ascending, long x) {
        int low = 0;
        int high = ascending.length;
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (ascending[mid] > x) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        return low;
    }

    static long[] cumulative(long[] sizes) {
        long[] ends = new long[sizes.length];
        long total = 0;
        for (int i = 0; i < sizes.length; i++) {
            total += sizes[i];
            ends[i] = total;
        }
        return ends;
    }

    /** {@code n} split by proportions: floor of the cumulative shares, so the sizes sum to n exactly. */
    static long[] split(long n, double[] proportions) {
        long[] sizes = new long[proportions.length];
        double cumulative = 0;
        long previous = 0;
        for (int i = 0; i < proportions.length; i++) {
            cumulative += proportions[i];
            long end = i == proportions.length - 1 ? n : Math.min(n, (long) Math.floor(cumulative * n));
            sizes[i] = Math.max(0, end - previous);
            previous = Math.max(previous, end);
        }
        return sizes;
    }

    /** {@code n} split into {@code parts} sizes that differ by at most one. */
    static long[] even(long n, int parts) {
        long[] sizes = new long[parts];
        for (int i = 0; i < parts; i++) {
            sizes[i] = (i + 1) * n / parts - i * n / parts;
        }
        return sizes;
    }
}
