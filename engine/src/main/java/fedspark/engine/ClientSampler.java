package fedspark.engine;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

/** Which clients take part in a round: m of K without replacement, from a generator seeded by the run seed and the round. */
public final class ClientSampler {

    private ClientSampler() {
    }

    /** Sorted ids of the m clients of round {@code round}; Floyd's algorithm, O(m) whatever K. */
    public static int[] sample(int clients, int m, long seed, int round) {
        return draw(clients, m, Seeds.mix(seed, Seeds.SAMPLING, round));
    }

    /** Sorted ids of m of {@code clients} clients without replacement, from a generator seeded by {@code generatorSeed}. */
    public static int[] draw(int clients, int m, long generatorSeed) {
        if (m < 1 || m > clients) {
            throw new IllegalArgumentException("cannot sample " + m + " of " + clients + " clients");
        }
        SplittableRandom random = new SplittableRandom(generatorSeed);
        Set<Integer> chosen = new HashSet<>();
        for (int j = clients - m; j < clients; j++) {
            int t = random.nextInt(j + 1);
            chosen.add(chosen.contains(t) ? j : t);
        }
        int[] ids = chosen.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(ids);
        return ids;
    }
}
