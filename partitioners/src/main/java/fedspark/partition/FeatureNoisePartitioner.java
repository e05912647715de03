package fedspark.partition;

import java.util.SplittableRandom;

/**
 * Feature skew (NIID-Bench's noise-based split): an IID split where client k adds Gaussian noise of
 * standard deviation sigma * k / K to every feature, seeded by the run seed and the example's rank.
 */
public final class FeatureNoisePartitioner extends IidPartitioner {

    private final double sigma;

    public FeatureNoisePartitioner(int clients, double sigma, long seed) {
        super(clients, seed);
        if (!(sigma >= 0)) {
            throw new IllegalArgumentException("partition.sigma must be >= 0, got " + sigma);
        }
        this.sigma = sigma;
    }

    @Override
    public String id() {
        return "noise-k" + clients + "-sigma" + sigma + "-seed" + seed;
    }

    @Override
    protected float[] features(float[] original, int client, long rank) {
        double std = sigma * client / clients;
        if (std == 0) {
            return original;
        }
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + rank);
        float[] noisy = new float[original.length];
        for (int i = 0; i < original.length; i++) {
            noisy[i] = (float) (original[i] + std * gaussian(random));
        }
        return noisy;
    }

    // Box-Muller: SplittableRandom has no Gaussian of its own.
    private static double gaussian(SplittableRandom random) {
        double u = 1.0 - random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
