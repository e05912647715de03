package fedspark.engine.privacy;

import java.util.Arrays;

import org.apache.commons.math3.special.Erf;
import org.apache.commons.math3.special.Gamma;

/**
 * Renyi differential privacy of the Poisson-sampled Gaussian mechanism (Mironov, Talwar and Zhang 2019, "Renyi
 * Differential Privacy of the Sampled Gaussian Mechanism": integer orders in closed form, fractional orders by the
 * series of their Section 3.3), composed over steps by adding RDP, and converted to (epsilon, delta) by the bound of
 * Balle et al. 2020 ("Hypothesis Testing Interpretations and Renyi Differential Privacy", Proposition 12), which
 * TensorFlow Privacy's and Opacus's accountants use:
 * epsilon = min over orders a of rdp(a) + log1p(-1/a) - log(delta a) / (a - 1).
 * For DP-FedAvg a step is a round, q the probability that a client takes part and the noise multiplier z the ratio
 * of the noise's standard deviation to the clip (the sensitivity of the clipped sum to one client).
 */
public final class RdpAccountant {

    /**
     * The orders: TensorFlow Privacy's compute_dp_sgd_privacy set, 1.25 to 4.5 in quarter and half steps, every
     * integer from 5 to 63, and 128, 256, 512.
     */
    public static final double[] ORDERS = orders();

    private static double[] orders() {
        double[] small = {1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5};
        double[] all = new double[small.length + 59 + 3];
        System.arraycopy(small, 0, all, 0, small.length);
        for (int a = 5; a < 64; a++) {
            all[small.length + a - 5] = a;
        }
        all[all.length - 3] = 128;
        all[all.length - 2] = 256;
        all[all.length - 1] = 512;
        return all;
    }

    private final double[] orders;
    private final double[] rdp;

    /** An accountant over {@link #ORDERS} that has spent nothing. */
    public RdpAccountant() {
        this(ORDERS);
    }

    public RdpAccountant(double[] orders) {
        for (double a : orders) {
            if (!(a > 1)) {
                throw new IllegalArgumentException("RDP orders must be above 1, got " + a);
            }
        }
        this.orders = orders.clone();
        this.rdp = new double[orders.length];
    }

    /** Adds {@code steps} of the Gaussian mechanism with noise multiplier {@code noise}, each on a Poisson sample of rate {@code q}. */
    public RdpAccountant compose(double q, double noise, long steps) {
        double[] one = rdp(q, noise, orders);
        for (int i = 0; i < rdp.length; i++) {
            rdp[i] += steps * one[i];
        }
        return this;
    }

    /** The RDP spent so far, one value per order. */
    public double[] spentRdp() {
        return rdp.clone();
    }

    /** (epsilon, the order that gives it) for {@code delta}. */
    public record Spent(double epsilon, double order) {
    }

    public Spent epsilon(double delta) {
        return epsilon(orders, rdp, delta);
    }

    /** The RDP of one step of the sampled Gaussian mechanism at each order (infinite without noise, 0 when q = 0). */
    public static double[] rdp(double q, double noise, double[] orders) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("the sampling probability q must be in [0, 1], got " + q);
        }
        if (!(noise >= 0) || Double.isInfinite(noise)) {
            throw new IllegalArgumentException("the noise multiplier must be finite and not negative, got " + noise);
        }
        double[] out = new double[orders.length];
        for (int i = 0; i < orders.length; i++) {
            double a = orders[i];
            if (q == 0) {
                out[i] = 0;
            } else if (noise == 0 || Double.isInfinite(a)) {
                out[i] = Double.POSITIVE_INFINITY;
            } else if (q == 1) {
                out[i] = a / (2 * noise * noise);
            } else {
                out[i] = logA(q, noise, a) / (a - 1);
            }
        }
        return out;
    }

    /** Balle et al.'s conversion, minimised over the orders. */
    public static Spent epsilon(double[] orders, double[] rdp, double delta) {
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1), got " + delta);
        }
        double best = Double.POSITIVE_INFINITY;
        double bestOrder = orders[0];
        for (int i = 0; i < orders.length; i++) {
            double a = orders[i];
            double r = rdp[i];
            double eps;
            if (delta * delta + Math.expm1(-r) > 0) {
                eps = 0; // bounded through the KL divergence: delta <= sqrt(1 - exp(-rdp))
            } else if (a > 1.01) {
                eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
            } else {
                eps = Double.POSITIVE_INFINITY; // the bound is unstable as a -> 1
            }
            if (eps < best) {
                best = eps;
                bestOrder = a;
            }
        }
        return new Spent(Math.max(0, best), bestOrder);
    }

    /**
     * The smallest noise multiplier whose {@code steps} steps at rate {@code q} spend at most {@code targetEpsilon}
     * at {@code delta}, to a relative precision of 1e-6 (bisection: epsilon falls as the noise grows).
     */
    public static double noiseFor(double targetEpsilon, double delta, double q, long steps) {
        if (!(targetEpsilon > 0) || Double.isInfinite(targetEpsilon)) {
            throw new IllegalArgumentException("the target epsilon must be positive and finite, got " + targetEpsilon);
        }
        if (q == 0 || steps == 0) {
            return 0;
        }
        double low = 0;
        double high = 1;
        while (epsilonOf(q, high, steps, delta) > targetEpsilon) {
            low = high;
            high *= 2;
            if (high > 1e6) {
                throw new IllegalArgumentException("no noise multiplier below 1e6 reaches epsilon " + targetEpsilon + " at delta "
                        + delta + " with q = " + q + " over " + steps + " steps");
            }
        }
        return smallestNoise(noise -> epsilonOf(q, noise, steps, delta), targetEpsilon, low, high, 1e-6);
    }

    /**
     * Bisection between {@code low} (spends more than {@code target}) and {@code high} (spends at most it), to
     * {@code precision} relative: epsilon falls as the noise grows. Both accountants size their noise with it.
     */
    static double smallestNoise(java.util.function.DoubleUnaryOperator epsilonAt, double target, double low, double high, double precision) {
        while (high - low > precision * high) {
            double middle = (low + high) / 2;
            if (epsilonAt.applyAsDouble(middle) > target) {
                low = middle;
            } else {
                high = middle;
            }
        }
        return high;
    }

    /** Epsilon after {@code steps} steps at rate {@code q} and noise {@code noise}. */
    public static double epsilonOf(double q, double noise, long steps, double delta) {
        return new RdpAccountant().compose(q, noise, steps).epsilon(delta).epsilon();
    }

    /** log(A_alpha), the alpha-th moment of the privacy loss of one step, 0 < q < 1. */
    static double logA(double q, double sigma, double alpha) {
        return alpha == Math.rint(alpha) ? logAInteger(q, sigma, (int) alpha) : logAFractional(q, sigma, alpha);
    }

    private static double logAInteger(double q, double sigma, int alpha) {
        double logA = Double.NEGATIVE_INFINITY;
        double log1mq = Math.log1p(-q);
        double logQ = Math.log(q);
        for (int i = 0; i <= alpha; i++) {
            double term = logBinomial(alpha, i) + i * logQ + (alpha - i) * log1mq + (i * (double) i - i) / (2 * sigma * sigma);
            logA = logAdd(logA, term);
        }
        return logA;
    }

    /**
     * Mironov, Talwar and Zhang's series for a fractional order (their Section 3.3), summed as dp_accounting 0.4.4's
     * {@code _compute_log_a_frac} sums it (python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant.py at that
     * release): each term with the sign of its binomial coefficient, until both parts' terms are below e^-30. The terms'
     * exponents fall only polynomially in i once i passes alpha, so this can take thousands of terms; a cap on the
     * count would leave an order without a bound where the series converges.
     */
    private static double logAFractional(double q, double sigma, double alpha) {
        double logA0 = Double.NEGATIVE_INFINITY;
        double logA1 = Double.NEGATIVE_INFINITY;
        double z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
        double log1mq = Math.log1p(-q);
        double logQ = Math.log(q);
        for (long i = 0; i < MAX_FRACTIONAL_TERMS; i++) {
            double logCoef = logBinomial(alpha, i);
            boolean positive = binomialSignPositive(alpha, i);
            double j = alpha - i;
            double logT0 = logCoef + i * logQ + j * log1mq;
            double logT1 = logCoef + j * logQ + i * log1mq;
            double logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.sqrt(2) * sigma));
            double logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.sqrt(2) * sigma));
            double logS0 = logT0 + (i * (double) i - i) / (2 * sigma * sigma) + logE0;
            double logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
            if (positive) {
                logA0 = logAdd(logA0, logS0);
                logA1 = logAdd(logA1, logS1);
            } else {
                logA0 = logSub(logA0, logS0, q, sigma, alpha);
                logA1 = logSub(logA1, logS1, q, sigma, alpha);
            }
            if (Math.max(logS0, logS1) < -30) {
                return logAdd(logA0, logA1);
            }
        }
        return Double.POSITIVE_INFINITY; // not reached in practice: the order then gives no bound
    }

    /** Terms after which a fractional order gives up (dp_accounting 0.4.4 has no cap; this one only stops a runaway). */
    private static final long MAX_FRACTIONAL_TERMS = 10_000_000L;

    /** The sign of binomial(alpha, i) for alpha > 0: one factor (alpha - k) is negative for each k < i above alpha. */
    static boolean binomialSignPositive(double alpha, long i) {
        long negativeFactors = Math.max(0, i - (long) Math.floor(alpha) - 1);
        return negativeFactors % 2 == 0;
    }

    private static double logSub(double x, double y, double q, double sigma, double alpha) {
        if (y == Double.NEGATIVE_INFINITY) {
            return x;
        }
        if (x < y) {
            throw new IllegalStateException("the fractional-order series went negative at q = " + q + ", z = " + sigma + ", order " + alpha);
        }
        if (x == y) {
            return Double.NEGATIVE_INFINITY;
        }
        return Math.log(Math.expm1(x - y)) + y;
    }

    private static double logAdd(double x, double y) {
        double a = Math.min(x, y);
        double b = Math.max(x, y);
        return a == Double.NEGATIVE_INFINITY ? b : Math.log1p(Math.exp(a - b)) + b;
    }

    /** log |binomial(n, k)| for real n, through log |Gamma|. */
    static double logBinomial(double n, double k) {
        return logAbsGamma(n + 1) - logAbsGamma(k + 1) - logAbsGamma(n - k + 1);
    }

    /** log |Gamma(x)|, for negative non-integral x by the reflection Gamma(x) Gamma(1 - x) = pi / sin(pi x). */
    static double logAbsGamma(double x) {
        if (x > 0) {
            return Gamma.logGamma(x);
        }
        return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - Gamma.logGamma(1 - x);
    }

    /** log(erfc(x)), accurate where erfc underflows (an asymptotic series beyond x = 20, error below 1e-13). */
    static double logErfc(double x) {
        if (x < 20) {
            return Math.log(Erf.erfc(x));
        }
        double inverse2 = 1 / (2 * x * x);
        // erfc(x) = exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(2x^2)^2 - 15/(2x^2)^3 + 105/(2x^2)^4 ...)
        double series = 1 - inverse2 + 3 * inverse2 * inverse2 - 15 * Math.pow(inverse2, 3) + 105 * Math.pow(inverse2, 4)
                - 945 * Math.pow(inverse2, 5);
        return -x * x - Math.log(x) - 0.5 * Math.log(Math.PI) + Math.log(series);
    }

    @Override
    public String toString() {
        return "RdpAccountant" + Arrays.toString(rdp);
    }
}
