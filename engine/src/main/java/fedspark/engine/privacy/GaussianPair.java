package fedspark.engine.privacy;

import org.apache.commons.math3.special.Erf;

/**
 * The (epsilon, delta) of telling apart two one-dimensional Gaussians, N(mean0, sd0^2) and N(mean1, sd1^2), with the
 * best test: delta(epsilon) = sup over sets S of P(S) - e^epsilon Q(S), the larger of the two orders of the pair. The
 * optimal S is where log(p / q) > epsilon, a quadratic inequality in x, so delta is exact through the normal CDF. What
 * the canary audit ({@link CanaryAudit}) turns its fitted statistics into.
 */
public final class GaussianPair {

    private GaussianPair() {
    }

    /** The smallest epsilon >= 0 (to 1e-9) with delta(epsilon) <= delta; infinity if no finite one. */
    public static double epsilon(double mean0, double sd0, double mean1, double sd1, double delta) {
        if (!(sd0 > 0 && sd1 > 0)) {
            return mean0 == mean1 && sd0 == sd1 ? 0 : Double.POSITIVE_INFINITY;
        }
        if (delta(mean0, sd0, mean1, sd1, 0) <= delta) {
            return 0;
        }
        double high = 1;
        while (delta(mean0, sd0, mean1, sd1, high) > delta) {
            high *= 2;
            if (high > 1e4) {
                return Double.POSITIVE_INFINITY;
            }
        }
        double low = 0;
        while (high - low > 1e-9 * Math.max(1, high)) {
            double middle = (low + high) / 2;
            if (delta(mean0, sd0, mean1, sd1, middle) > delta) {
                low = middle;
            } else {
                high = middle;
            }
        }
        return high;
    }

    /** delta(epsilon), the larger over both orders of the pair. */
    public static double delta(double mean0, double sd0, double mean1, double sd1, double epsilon) {
        return Math.max(hockeyStick(mean1, sd1, mean0, sd0, epsilon), hockeyStick(mean0, sd0, mean1, sd1, epsilon));
    }

    /** sup_S P(S) - e^epsilon Q(S) for P = N(meanP, sdP^2), Q = N(meanQ, sdQ^2). */
    static double hockeyStick(double meanP, double sdP, double meanQ, double sdQ, double epsilon) {
        // log p(x) - log q(x) - epsilon = a x^2 + b x + c
        double a = 1 / (2 * sdQ * sdQ) - 1 / (2 * sdP * sdP);
        double b = meanP / (sdP * sdP) - meanQ / (sdQ * sdQ);
        double c = Math.log(sdQ / sdP) - meanP * meanP / (2 * sdP * sdP) + meanQ * meanQ / (2 * sdQ * sdQ) - epsilon;
        // e^epsilon Q(S) is taken as exp(epsilon + log Q(S)): past epsilon = 709.78 e^epsilon overflows while Q(S) may
        // underflow, and their product need not do either
        double value;
        if (Math.abs(a) < 1e-12 * (Math.abs(b) + 1e-300) || a == 0) {
            if (b == 0) {
                return c > 0 ? -Math.expm1(epsilon) : 0; // log p / q is constant
            }
            double root = -c / b; // the region x > root when b > 0, x < root otherwise
            value = b > 0 ? above(meanP, sdP, root) - Math.exp(epsilon + logAbove(meanQ, sdQ, root))
                    : below(meanP, sdP, root) - Math.exp(epsilon + logBelow(meanQ, sdQ, root));
        } else {
            double discriminant = b * b - 4 * a * c;
            if (discriminant <= 0) {
                // the quadratic keeps a's sign: the region is everything (a > 0) or nothing
                return a > 0 ? Math.max(0, -Math.expm1(epsilon)) : 0;
            }
            double root = Math.sqrt(discriminant);
            double r1 = (-b - Math.copySign(root, a)) / (2 * a);
            double r2 = (-b + Math.copySign(root, a)) / (2 * a); // r1 < r2
            if (a > 0) { // outside (r1, r2)
                value = below(meanP, sdP, r1) + above(meanP, sdP, r2)
                        - Math.exp(epsilon + logBelow(meanQ, sdQ, r1)) - Math.exp(epsilon + logAbove(meanQ, sdQ, r2));
            } else { // inside
                value = between(meanP, sdP, r1, r2) - Math.exp(epsilon + logBetween(meanQ, sdQ, r1, r2));
            }
        }
        return Math.max(0, value);
    }

    private static double below(double mean, double sd, double x) {
        return 0.5 * Erf.erfc(-(x - mean) / (sd * Math.sqrt(2)));
    }

    private static double above(double mean, double sd, double x) {
        return 0.5 * Erf.erfc((x - mean) / (sd * Math.sqrt(2)));
    }

    private static double between(double mean, double sd, double low, double high) {
        double mid = (low + high) / 2;
        return mid < mean ? below(mean, sd, high) - below(mean, sd, low) : above(mean, sd, low) - above(mean, sd, high);
    }

    private static double logBelow(double mean, double sd, double x) {
        return PldAccountant.logNormalCdf((x - mean) / sd);
    }

    private static double logAbove(double mean, double sd, double x) {
        return PldAccountant.logNormalCdf(-(x - mean) / sd);
    }

    /** log P(low < X < high), as {@link #between}: the difference of the two tail masses on the interval's side. */
    private static double logBetween(double mean, double sd, double low, double high) {
        double mid = (low + high) / 2;
        return mid < mean ? logDifference(logBelow(mean, sd, high), logBelow(mean, sd, low))
                : logDifference(logAbove(mean, sd, low), logAbove(mean, sd, high));
    }

    /** log(e^x - e^y) for y <= x. */
    private static double logDifference(double x, double y) {
        return x + Math.log1p(-Math.exp(y - x));
    }
}
