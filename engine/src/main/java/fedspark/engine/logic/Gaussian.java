package fedspark.engine.logic;

import java.util.SplittableRandom;

/** Gaussian noise from a seeded generator (Marsaglia's polar method, both draws of each pair used). */
public final class Gaussian {

    private Gaussian() {
    }

    /** Adds N(0, std^2) to every value. */
    public static void addNoise(double[] values, double std, SplittableRandom random) {
        for (int i = 0; i < values.length; i += 2) {
            double u;
            double v;
            double s;
            do {
                u = 2 * random.nextDouble() - 1;
                v = 2 * random.nextDouble() - 1;
                s = u * u + v * v;
            } while (s >= 1 || s == 0);
            double factor = std * Math.sqrt(-2 * Math.log(s) / s);
            values[i] += u * factor;
            if (i + 1 < values.length) {
                values[i + 1] += v * factor;
            }
        }
    }
}
