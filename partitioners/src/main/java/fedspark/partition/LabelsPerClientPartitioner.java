package fedspark.partition;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * NIID-Bench's #C=k: each client holds exactly k distinct labels (client i first gets label i mod C,
 * then k-1 others drawn at random), and each label's examples are split evenly among its holders.
 */
public final class LabelsPerClientPartitioner extends RankedPartitioner {

    private final int labelsPerClient;

    public LabelsPerClientPartitioner(int clients, int labelsPerClient, long seed) {
        super(clients, seed);
        if (labelsPerClient < 1) {
            throw new IllegalArgumentException("partition.labels-per-client must be at least 1, got " + labelsPerClient);
        }
        this.labelsPerClient = labelsPerClient;
    }

    @Override
    public String id() {
        return "labels-k" + clients + "-c" + labelsPerClient + "-seed" + seed;
    }

    @Override
    protected boolean groupsByLabel() {
        return true;
    }

    @Override
    protected SegmentPlan plan(long[] labelCounts) {
        int classes = labelCounts.length;
        if (labelsPerClient > classes) {
            throw new IllegalArgumentException("partition.labels-per-client = " + labelsPerClient + " but the data has " + classes + " labels");
        }
        List<List<Integer>> holders = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            holders.add(new ArrayList<>());
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int client = 0; client < clients; client++) {
            boolean[] held = new boolean[classes];
            held[client % classes] = true;
            for (int count = 1; count < labelsPerClient; ) {
                int label = random.nextInt(classes);
                if (!held[label]) {
                    held[label] = true;
                    count++;
                }
            }
            for (int c = 0; c < classes; c++) {
                if (held[c]) {
                    holders.get(c).add(client);
                }
            }
        }
        int[][] owners = new int[classes][];
        long[][] ends = new long[classes][];
        for (int c = 0; c < classes; c++) {
            List<Integer> h = holders.get(c);
            if (h.isEmpty() && labelCounts[c] > 0) {
                throw new IllegalArgumentException("label " + c + " is held by no client (" + clients + " clients x "
                        + labelsPerClient + " labels over " + classes + " labels); use more clients or labels per client");
            }
            if (labelCounts[c] > 0 && labelCounts[c] < h.size()) {
                throw new IllegalArgumentException("label " + c + " has " + labelCounts[c] + " examples for " + h.size() + " clients holding it");
            }
            owners[c] = h.stream().mapToInt(Integer::intValue).toArray();
            ends[c] = SegmentPlan.cumulative(SegmentPlan.even(labelCounts[c], h.size()));
        }
        return new SegmentPlan(labelCounts, owners, ends);
    }
}
