package fedspark.engine.local;

import java.util.SplittableRandom;

import fedspark.engine.Seeds;

/** The order in which a client visits its examples in one local epoch: a permutation seeded by run seed, round, client and epoch. */
public final class LocalBatches {

    private LocalBatches() {
    }

    public static int[] order(int examples, long seed, int round, int client, int epoch) {
        int[] order = new int[examples];
        for (int i = 0; i < examples; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(Seeds.mix(seed, Seeds.BATCH_ORDER, round, client, epoch));
        for (int i = examples - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
