package fedspark.partition;

import org.apache.commons.math3.distribution.GammaDistribution;
import org.apache.commons.math3.random.RandomGenerator;
import org.apache.commons.math3.random.Well19937c;

/** Draws from a Dirichlet distribution through normalised Gamma variates, from a seeded generator. */
final class Dirichlet {

    private final RandomGenerator random;

    Dirichlet(long seed) {
        this.random = new Well19937c(seed);
    }

    /** One draw from Dir(alpha); alpha entries must be positive. */
    double[] sample(double[] alpha) {
        double[] draw = new double[alpha.length];
        for (int attempt = 0; attempt < 1000; attempt++) {
            double sum = 0;
            for (int i = 0; i < alpha.length; i++) {
                draw[i] = new GammaDistribution(random, alpha[i], 1.0).sample();
                sum += draw[i];
            }
            if (sum > 0) { // with tiny concentrations every variate can underflow to zero: draw again
                for (int i = 0; i < draw.length; i++) {
                    draw[i] /= sum;
                }
                return draw;
            }
        }
        throw new ArithmeticException("Dirichlet concentration too small to sample in double precision");
    }

    /** One draw from the symmetric Dir(beta, ..., beta) of dimension k. */
    double[] symmetric(double beta, int k) {
        double[] alpha = new double[k];
        java.util.Arrays.fill(alpha, beta);
        return sample(alpha);
    }
}
