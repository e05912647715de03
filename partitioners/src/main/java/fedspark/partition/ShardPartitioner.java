package fedspark.partition;

import static org.apache.spark.sql.functions.col;

import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.sql.Column;

import fedspark.data.CanonicalTable;

/**
 * McMahan et al.'s pathological non-IID split: sort by label, cut into K*s equal shards, give each
 * client s shards chosen by a seeded permutation (K=100, s=2: most clients see two labels).
 */
public final class ShardPartitioner extends RankedPartitioner {

    private final int shardsPerClient;
    private final int[] ownerOfShard;

    public ShardPartitioner(int clients, int shardsPerClient, long seed) {
        super(clients, seed);
        if (shardsPerClient < 1) {
            throw new IllegalArgumentException("partition.shards-per-client must be at least 1, got " + shardsPerClient);
        }
        this.shardsPerClient = shardsPerClient;
        int shards = clients * shardsPerClient;
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
        ownerOfShard = new int[shards];
        for (int position = 0; position < shards; position++) {
            ownerOfShard[permutation[position]] = position / shardsPerClient;
        }
    }

    @Override
    public String id() {
        return "shards-k" + clients + "-s" + shardsPerClient + "-seed" + seed;
    }

    @Override
    protected List<Column> sortPrefix() {
        return List.of(col(CanonicalTable.LABEL));
    }

    @Override
    protected void checkFits(long n) {
        long shards = (long) clients * shardsPerClient;
        if (n < shards) {
            throw new IllegalArgumentException("cannot cut " + n + " examples into " + shards + " non-empty shards ("
                    + clients + " clients x " + shardsPerClient + " shards)");
        }
    }

    @Override
    protected int clientOfRank(long rank, long n) {
        return ownerOfShard[(int) (rank * ownerOfShard.length / n)];
    }
}
