package fedspark.engine.privacy;

import org.apache.commons.math3.special.Erf;

/**
 * Privacy-loss-distribution accounting of the Poisson-sampled Gaussian mechanism (Koskela, Jalko and Honkela 2020,
 * "Computing Tight Differential Privacy Guarantees Using FFT"; discretized as dp_accounting 0.4.4's PLD accountant
 * does), under add/remove-one neighbouring: one step is the pair
 * P = (1 - q) N(0, z^2) + q N(1, z^2) against Q = N(0, z^2) (a client removed) and the same pair reversed (a client
 * added); delta(epsilon) is the larger of the two.
 * <p>Each step's privacy loss L = log(P(x) / Q(x)), x ~ P, is put on the grid h Z by connect-the-dots ({@link
 * #connectDots}: a pessimistic PMF, so every delta this class reports is at least the mechanism's), over the losses of
 * x within 8.3 standard deviations (the rest is counted as an infinite loss); steps compose by convolution (FFT,
 * squaring for repeated steps), after each of which at most 1e-15 of mass is moved from the bottom up into the first
 * bin and at most 1e-15 from the top to infinity. delta(epsilon) = P(L = infinity) + sum over the grid of
 * (1 - e^(epsilon - l)) P(l) for l above epsilon.
 * <p>Tighter than the RDP accountant ({@link RdpAccountant}) on the same mechanism: the RDP to (epsilon, delta)
 * conversion loses what the PLD keeps.
 */
public final class PldAccountant {

    /** The grid's spacing in loss: dp_accounting's default value_discretization_interval. */
    public static final double DEFAULT_INTERVAL = 1e-4;

    /** Probability mass each tail may drop (moved pessimistically) at each step and after each composition. */
    static final double TAIL = 1e-15;

    /** Standard normal quantile beyond which the tail is below TAIL / 2 (Phi(-8.3) = 5.2e-17). */
    private static final double TAIL_SIGMAS = 8.3;

    /** A discretized loss distribution: loss (offset + i) h with probability mass[i], and the mass of an infinite loss. */
    record Pmf(long offset, double[] mass, double infinity) {

        static final Pmf IDENTITY = new Pmf(0, new double[] {1}, 0);
    }

    private final double interval;
    private Pmf remove = Pmf.IDENTITY;
    private Pmf add = Pmf.IDENTITY;
    private boolean infinite;

    public PldAccountant() {
        this(DEFAULT_INTERVAL);
    }

    public PldAccountant(double interval) {
        if (!(interval > 0 && interval < 1)) {
            throw new IllegalArgumentException("the PLD's discretization interval must be in (0, 1), got " + interval);
        }
        this.interval = interval;
    }

    /** Adds {@code steps} of the Gaussian mechanism with noise multiplier {@code noise}, each on a Poisson sample of rate {@code q}. */
    public PldAccountant compose(double q, double noise, long steps) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("the sampling probability q must be in [0, 1], got " + q);
        }
        if (!(noise >= 0) || Double.isInfinite(noise)) {
            throw new IllegalArgumentException("the noise multiplier must be finite and not negative, got " + noise);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("the number of steps cannot be negative, got " + steps);
        }
        if (q == 0 || steps == 0) {
            return this;
        }
        if (noise == 0) {
            infinite = true;
            return this;
        }
        remove = convolve(remove, power(removeStep(q, noise), steps));
        add = convolve(add, power(addStep(q, noise), steps));
        return this;
    }

    /** The smallest delta for which what was composed is (epsilon, delta)-DP. */
    public double delta(double epsilon) {
        if (infinite) {
            return 1;
        }
        return Math.max(delta(remove, epsilon), delta(add, epsilon));
    }

    /** The smallest epsilon (to 1e-9 relative) at which what was composed is (epsilon, delta)-DP; infinity if none. */
    public double epsilon(double delta) {
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1), got " + delta);
        }
        if (infinite || Math.max(remove.infinity(), add.infinity()) > delta) {
            return Double.POSITIVE_INFINITY;
        }
        if (delta(0) <= delta) {
            return 0;
        }
        double low = 0;
        double high = interval * (Math.max(top(remove), top(add)) + 1); // delta is 0 (but for the infinite mass) above the top loss
        while (high - low > 1e-9 * high) {
            double middle = (low + high) / 2;
            if (delta(middle) > delta) {
                low = middle;
            } else {
                high = middle;
            }
        }
        return high;
    }

    /** Epsilon after {@code steps} steps at rate {@code q} and noise {@code noise}, at the default grid. */
    public static double epsilonOf(double q, double noise, long steps, double delta) {
        return new PldAccountant().compose(q, noise, steps).epsilon(delta);
    }

    /**
     * The smallest noise multiplier whose {@code steps} steps at rate {@code q} spend at most {@code targetEpsilon} at
     * {@code delta}, to a relative precision of 1e-4, bracketed from the RDP accountant's answer (never above it).
     */
    public static double noiseFor(double targetEpsilon, double delta, double q, long steps) {
        double high = RdpAccountant.noiseFor(targetEpsilon, delta, q, steps);
        if (high == 0) {
            return 0;
        }
        double low = high / 2;
        while (low > 1e-6 && epsilonOf(q, low, steps, delta) <= targetEpsilon) {
            high = low;
            low /= 2;
        }
        return RdpAccountant.smallestNoise(noise -> epsilonOf(q, noise, steps, delta), targetEpsilon, low, high, 1e-4);
    }

    private static long top(Pmf pmf) {
        return pmf.offset() + pmf.mass().length - 1;
    }

    private double delta(Pmf pmf, double epsilon) {
        double delta = pmf.infinity();
        double[] mass = pmf.mass();
        long first = Math.max(0, (long) Math.floor(epsilon / interval) - pmf.offset());
        for (long i = first; i < mass.length; i++) {
            double loss = (pmf.offset() + i) * interval;
            if (loss > epsilon) {
                delta += -Math.expm1(epsilon - loss) * mass[(int) i];
            }
        }
        return Math.min(1, delta);
    }

    // ---- one step ----

    /**
     * A client removed: x ~ P = (1 - q) N(0, z^2) + q N(1, z^2) against Q = N(0, z^2); the loss
     * log(P(x) / Q(x)) = log(1 - q + q e^((2x - 1) / (2 z^2))) runs from log(1 - q) up.
     */
    private Pmf removeStep(double q, double z) {
        double low = -TAIL_SIGMAS * z;
        double high = 1 + TAIL_SIGMAS * z;
        double lossLow = mixtureLoss(q, (2 * low - 1) / (2 * z * z));
        double lossHigh = mixtureLoss(q, (2 * high - 1) / (2 * z * z));
        return connectDots(epsilon -> removeDelta(q, z, epsilon), lossLow, lossHigh);
    }

    /** A client added: x ~ N(0, z^2) against (1 - q) N(0, z^2) + q N(1, z^2); the loss is at most -log(1 - q). */
    private Pmf addStep(double q, double z) {
        double low = -TAIL_SIGMAS * z;
        double high = TAIL_SIGMAS * z;
        double lossLow = -mixtureLoss(q, (2 * high - 1) / (2 * z * z));
        double lossHigh = -mixtureLoss(q, (2 * low - 1) / (2 * z * z));
        return connectDots(epsilon -> addDelta(q, z, epsilon), lossLow, lossHigh);
    }

    /**
     * log(1 - q + q e^y), the removal pair's loss at the x with y = (2x - 1) / (2 z^2). At q = 1 it is y itself:
     * log1p(q expm1(y)) would give -infinity once expm1(y) rounds to -1 (y below -37, z below 0.27 at the 8.3 sigma cut).
     */
    private static double mixtureLoss(double q, double y) {
        return q == 1 ? y : Math.log1p(q * Math.expm1(y));
    }

    /** The hockey-stick divergence of the removal pair at epsilon: q delta_G(log(1 + (e^epsilon - 1) / q)). */
    static double removeDelta(double q, double z, double epsilon) {
        double inner = Math.expm1(epsilon) / q;
        if (inner <= -1) {
            return -Math.expm1(epsilon); // every x: the whole of P above e^epsilon Q
        }
        return q * gaussianDelta(z, Math.log1p(inner));
    }

    /**
     * The hockey-stick divergence of the addition pair at epsilon: (1 - e^epsilon (1 - q)) delta_G(log(q / c)) with
     * c = e^-epsilon - (1 - q). Not c = expm1(-epsilon) + q: at q = 1 that keeps only a few digits of e^-epsilon above
     * epsilon = 20, rounding noise which the PMF's second differences, cut off below 0, once turned into 0.9% of
     * spurious mass at losses 20 to 37 (z = 0.25).
     */
    static double addDelta(double q, double z, double epsilon) {
        double c = Math.exp(-epsilon) - (1 - q);
        if (c <= 0) {
            return 0;
        }
        return -Math.expm1(epsilon + Math.log1p(-q)) * gaussianDelta(z, Math.log(q / c));
    }

    /**
     * The hockey-stick divergence at epsilon of N(1, z^2) against N(0, z^2) (the Gaussian mechanism of sensitivity 1):
     * Phi(1 / (2z) - epsilon z) - e^epsilon Phi(-1 / (2z) - epsilon z), the second term in log space.
     */
    static double gaussianDelta(double z, double epsilon) {
        if (epsilon == Double.NEGATIVE_INFINITY) {
            return 1;
        }
        double a = 1 / (2 * z) - epsilon * z;
        double b = -1 / (2 * z) - epsilon * z;
        double first = normalCdf(a);
        double second = Math.exp(epsilon + logNormalCdf(b));
        return Math.max(0, first - second);
    }

    static double logNormalCdf(double x) {
        return Math.log(0.5) + RdpAccountant.logErfc(-x / Math.sqrt(2));
    }

    /**
     * Connect the dots (Doroshenko, Ghazi, Kamath, Kumar and Manurangsi 2022, Algorithm 1; dp_accounting 0.4.4's
     * create_pmf_pessimistic_connect_dots_fixed_gap, which its PLD accountant uses for the Gaussian mechanism): on the
     * grid epsilon_i = i h from floor(lossLow / h) to ceil(lossHigh / h), with delta_i the mechanism's hockey-stick
     * divergence there, the pessimistic PMF with mass 1 - delta_1 + (delta_2 - delta_1) / (e^h - 1) at the first point,
     * ((delta_(i+1) - delta_i) - e^h (delta_i - delta_(i-1))) / (e^h - 1) inside, (delta_n - delta_(n-1)) / (e^-h - 1)
     * at the last and delta_n at infinity. Its delta(epsilon) is at least the mechanism's at every epsilon, and the
     * error does not grow by h a step as rounding every loss up does.
     */
    private Pmf connectDots(java.util.function.DoubleUnaryOperator delta, double lossLow, double lossHigh) {
        long first = (long) Math.floor(lossLow / interval);
        long last = Math.max(first + 1, (long) Math.ceil(lossHigh / interval));
        int n = Math.toIntExact(last - first + 1);
        double[] deltas = new double[n];
        for (int i = 0; i < n; i++) {
            deltas[i] = delta.applyAsDouble((first + i) * interval);
        }
        for (int i = 1; i < n; i++) {
            deltas[i] = Math.min(deltas[i], deltas[i - 1]); // non-increasing, as a hockey-stick divergence is
        }
        double expm1 = Math.expm1(interval);
        double[] mass = new double[n];
        mass[0] = 1 - deltas[0] + (deltas[1] - deltas[0]) / expm1;
        double growth = Math.exp(interval);
        for (int i = 1; i < n - 1; i++) {
            mass[i] = ((deltas[i + 1] - deltas[i]) - growth * (deltas[i] - deltas[i - 1])) / expm1;
        }
        mass[n - 1] = (deltas[n - 1] - deltas[n - 2]) / Math.expm1(-interval);
        for (int i = 0; i < n; i++) {
            mass[i] = Math.max(0, mass[i]);
        }
        return new Pmf(first, mass, deltas[n - 1]);
    }

    static double normalCdf(double x) {
        if (x == Double.NEGATIVE_INFINITY) {
            return 0;
        }
        if (x == Double.POSITIVE_INFINITY) {
            return 1;
        }
        return 0.5 * Erf.erfc(-x / Math.sqrt(2));
    }

    // ---- composition ----

    private static Pmf power(Pmf step, long times) {
        Pmf result = Pmf.IDENTITY;
        Pmf base = step;
        for (long n = times; n > 0; n >>= 1) {
            if ((n & 1) == 1) {
                result = convolve(result, base);
            }
            if (n > 1) {
                base = convolve(base, base);
            }
        }
        return result;
    }

    static Pmf convolve(Pmf a, Pmf b) {
        double[] mass = a.mass().length * (long) b.mass().length <= 1 << 16 ? direct(a.mass(), b.mass()) : Fft.convolve(a.mass(), b.mass());
        double infinity = 1 - (1 - a.infinity()) * (1 - b.infinity());
        return truncate(a.offset() + b.offset(), mass, infinity);
    }

    private static double[] direct(double[] a, double[] b) {
        double[] out = new double[a.length + b.length - 1];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b.length; j++) {
                out[i + j] += a[i] * b[j];
            }
        }
        return out;
    }

    /** Up to TAIL of mass from the bottom moved up into the first kept bin, up to TAIL from the top counted as infinite. */
    private static Pmf truncate(long offset, double[] mass, double infinity) {
        for (int i = 0; i < mass.length; i++) {
            if (mass[i] < 0) {
                mass[i] = 0; // round-off of the FFT
            }
        }
        int from = 0;
        double lower = 0;
        while (from < mass.length - 1 && lower + mass[from] <= TAIL) {
            lower += mass[from++];
        }
        int to = mass.length - 1;
        double upper = 0;
        while (to > from && upper + mass[to] <= TAIL) {
            upper += mass[to--];
        }
        double[] kept = java.util.Arrays.copyOfRange(mass, from, to + 1);
        kept[0] += lower;
        return new Pmf(offset + from, kept, Math.min(1, infinity + upper));
    }

    /** Linear convolution of two real sequences through an iterative radix-2 complex FFT. */
    static final class Fft {

        private Fft() {
        }

        static double[] convolve(double[] a, double[] b) {
            int length = a.length + b.length - 1;
            int n = Integer.highestOneBit(Math.max(1, length - 1)) << 1;
            double[] re = new double[n];
            double[] im = new double[n];
            // both inputs in one complex transform: a in the real part, b in the imaginary part
            System.arraycopy(a, 0, re, 0, a.length);
            System.arraycopy(b, 0, im, 0, b.length);
            transform(re, im, false);
            double[] productRe = new double[n];
            double[] productIm = new double[n];
            for (int k = 0; k < n; k++) {
                int m = (n - k) & (n - 1);
                // A_k = (X_k + conj(X_m)) / 2, B_k = (X_k - conj(X_m)) / 2i
                double aRe = (re[k] + re[m]) / 2;
                double aIm = (im[k] - im[m]) / 2;
                double bRe = (im[k] + im[m]) / 2;
                double bIm = -(re[k] - re[m]) / 2;
                productRe[k] = aRe * bRe - aIm * bIm;
                productIm[k] = aRe * bIm + aIm * bRe;
            }
            transform(productRe, productIm, true);
            double[] out = new double[length];
            for (int i = 0; i < length; i++) {
                out[i] = productRe[i] / n;
            }
            return out;
        }

        static void transform(double[] re, double[] im, boolean inverse) {
            int n = re.length;
            for (int i = 1, j = 0; i < n; i++) {
                int bit = n >> 1;
                for (; (j & bit) != 0; bit >>= 1) {
                    j ^= bit;
                }
                j ^= bit;
                if (i < j) {
                    double t = re[i];
                    re[i] = re[j];
                    re[j] = t;
                    t = im[i];
                    im[i] = im[j];
                    im[j] = t;
                }
            }
            for (int size = 2; size <= n; size <<= 1) {
                double angle = (inverse ? 2 : -2) * Math.PI / size;
                int half = size >> 1;
                double[] cos = new double[half];
                double[] sin = new double[half];
                for (int k = 0; k < half; k++) {
                    cos[k] = Math.cos(angle * k);
                    sin[k] = Math.sin(angle * k);
                }
                for (int start = 0; start < n; start += size) {
                    for (int k = 0; k < half; k++) {
                        int even = start + k;
                        int odd = even + half;
                        double tRe = re[odd] * cos[k] - im[odd] * sin[k];
                        double tIm = re[odd] * sin[k] + im[odd] * cos[k];
                        re[odd] = re[even] - tRe;
                        im[odd] = im[even] - tIm;
                        re[even] += tRe;
                        im[even] += tIm;
                    }
                }
            }
        }
    }
}
