package fedspark.partition;

import java.util.SplittableRandom;

/**
 * Feature skew (NIID-Bench's noise-based split): an IID split where client k of K adds Gaussian noise of
 * standard deviation sigma * k / (K - 1) to every feature (client 0 none, the last one sigma, as NIID-Bench's
 * party i gets noise * i / (n_parties - 1)), seeded by the run seed and the example's rank.
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
        return "noise-k" + clients + "-sigma" + sigma + "-upto-last-seed" + seed; // "upto-last": std sigma k / (K - 1)
    }

    @Override
    protected float[] features(float[] original, int client, long rank) {
        double std = clients == 1 ? 0 : sigma * client / (clients - 1);
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
