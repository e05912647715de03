package fedspark.partition;

import java.util.SplittableRandom;

/**
 * McMahan et al.'s pathological non-IID split: sort by label, cut into K*s shards, give each client s
 * shards chosen by a seeded permutation (K=100, s=2: most clients see two labels). Shards hold
 * {@code shardSize} examples each, or n / (K*s) when it is 0; examples beyond K*s shards are left out.
 */
public final class ShardPartitioner extends RankedPartitioner {

    private final int shardsPerClient;
    private final int shardSize;

    public ShardPartitioner(int clients, int shardsPerClient, int shardSize, long seed) {
        super(clients, seed);
        if (shardsPerClient < 1) {
            throw new IllegalArgumentException("partition.shards-per-client must be at least 1, got " + shardsPerClient);
        }
        if (shardSize < 0) {
            throw new IllegalArgumentException("partition.shard-size must be positive (or 0: n / (K * shards-per-client)), got " + shardSize);
        }
        this.shardsPerClient = shardsPerClient;
        this.shardSize = shardSize;
    }

    @Override
    public String id() {
        return "shards-k" + clients + "-s" + shardsPerClient + (shardSize > 0 ? "-size" + shardSize : "") + "-seed" + seed;
    }

    @Override
    protected boolean groupsByLabel() {
        return true;
    }

    @Override
    protected SegmentPlan plan(long[] labelCounts) {
        long n = total(labelCounts);
        int shards = clients * shardsPerClient;
        if (n < shards || (long) shards * shardSize > n) {
            throw new IllegalArgumentException("cannot cut " + n + " examples into " + shards + " shards ("
                    + clients + " clients x " + shardsPerClient + " shards" + (shardSize > 0 ? " of " + shardSize : "") + ")");
        }
        int[] permutation = new int[shards];
        for (int i = 0; i < shards; i++) {
            permutation[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = shards - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = permutation[i];
            permutation[i] = permutation[j];
            permutation[j] = t;
        }
        // Segment j is shard j (in label order); its owner is where the permutation put it.
        int[] owners = new int[shards + 1];
        for (int position = 0; position < shards; position++) {
            owners[permutation[position]] = position / shardsPerClient;
        }
        long[] sizes = new long[shards + 1];
        long[] even = SegmentPlan.even(n, shards);
        for (int j = 0; j < shards; j++) {
            sizes[j] = shardSize > 0 ? shardSize : even[j];
        }
        owners[shards] = -1; // the rest, if shards have a fixed size
        sizes[shards] = n - (shardSize > 0 ? (long) shards * shardSize : n);
        return SegmentPlan.single(n, owners, sizes);
    }
}
