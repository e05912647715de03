package fedspark.engine.aggregate;

import java.io.Serializable;

import fedspark.engine.logic.Update;

/**
 * sum_k w_k x_k and sum_k w_k for one named quantity, in fixed point (a long with {@link #FRACTION_BITS}
 * fractional bits) where addition is exactly associative: the result is the same bit for bit in whatever order
 * Spark merges partial sums. Each client's contribution is rounded once, on its own executor: n * round(x * 2^32)
 * for an integral weight n (exact), round(w * x * 2^32) otherwise. Sums wrap modulo 2^64 as secure-aggregation
 * masks need; a bound on the true magnitude is kept so that a sum that really overflowed is reported, never returned.
 */
public final class FixedPointSum implements Serializable {

    /** Resolution 2^-32 (about 2.3e-10), far below a float's spacing at the scale of model weights. */
    public static final int FRACTION_BITS = 32;
    public static final double SCALE = 0x1p32;
    private static final double LIMIT = 0x1p62;

    private final String name;
    private long[] sums; // null until a second client: one client's floats cost half the bytes to ship
    private float[] single; // the first client's vector, unconverted, while it is the only one
    private double singleWeight;
    private long weight; // sum of w_k, fixed point
    private double magnitudeBound;

    FixedPointSum(String name) {
        this.name = name;
    }

    /** Values per vector, or -1 before the first. */
    int length() {
        return sums != null ? sums.length : single != null ? single.length : -1;
    }

    void add(int client, float[] vector, double w) {
        if (!(w > 0) || !Double.isFinite(w)) {
            throw new IllegalArgumentException("client " + client + " sent " + name + " with weight " + w + " (must be positive)");
        }
        if (length() >= 0 && length() != vector.length) {
            throw new IllegalStateException("client " + client + " sent " + vector.length + " values of " + name + ", others " + length());
        }
        double largest = 0;
        for (int i = 0; i < vector.length; i++) {
            float v = vector[i];
            if (!Float.isFinite(v)) {
                throw new ArithmeticException("client " + client + " sent a non-finite value of " + name + " at index " + i
                        + " (training diverged: lower train.lr)");
            }
            largest = Math.max(largest, Math.abs(v));
        }
        magnitudeBound += w * largest * SCALE;
        weight += Math.round(w * SCALE);
        checkBound();
        if (length() < 0) {
            single = vector;
            singleWeight = w;
        } else {
            accumulate(vector, w);
        }
    }

    void merge(FixedPointSum other) {
        if (other.length() < 0) {
            return;
        }
        if (length() >= 0 && length() != other.length()) {
            throw new IllegalStateException("partial sums of " + name + " of different lengths: " + length() + " and " + other.length());
        }
        if (other.single != null && length() < 0) {
            single = other.single;
            singleWeight = other.singleWeight;
        } else if (other.single != null) {
            accumulate(other.single, other.singleWeight);
        } else {
            toSums(other.sums.length);
            for (int i = 0; i < sums.length; i++) {
                sums[i] += other.sums[i];
            }
        }
        weight += other.weight;
        magnitudeBound += other.magnitudeBound;
        checkBound();
    }

    /** v in fixed point, as every client's contribution is rounded. */
    public static long fixed(double v) {
        return Math.round(v * SCALE);
    }

    /**
     * {@link #fixed} of a float (finite, |v| < 2^30), about three times faster than Math.round here. p = v * 2^32 is
     * exact in a double (24 significant bits). p + 0.5 is exact too, but where |p| < 2^-30 (the sum, within 2^-30 of
     * 1/2, rounds by at most 2^-54 and crosses no integer) and where |p| >= 2^52 (p is then an even integer, a multiple
     * of 2^29, and the sum, a tie, rounds back to it). So floor(p + 0.5) is the exact p rounded half up, Math.round's
     * rule (WeightedSumSuite compares them at every exponent). A double's product w * v is not exact: it keeps
     * Math.round.
     */
    static long fixedFloat(float v) {
        return (long) Math.floor(v * SCALE + 0.5);
    }

    /** One client's contribution as the sums hold it: w x in fixed point, w in fixed point, and a bound on its magnitude (2^-32 units). */
    record Encoded(long[] sums, long weight, long bound) {
    }

    /** {@code update} (or, when null, {@code vector}) weighted by {@code w}, encoded as {@link #add} would add it. */
    static Encoded encode(int client, float[] vector, Update update, double w) {
        FixedPointSum one = new FixedPointSum("the update");
        if (update != null) {
            one.add(client, update, w);
        } else {
            one.add(client, vector, w);
            one.toSums(vector.length);
        }
        return new Encoded(one.sums, one.weight, (long) Math.ceil(one.magnitudeBound));
    }

    /** Sets these sums to an unmasked secure-aggregation result: the sums, sum_k w_k (fixed point) and the summed magnitude bound. */
    void setUnmasked(long[] unmasked, int length, long totalWeight, long bound) {
        sums = java.util.Arrays.copyOf(unmasked, length);
        single = null;
        weight = totalWeight;
        magnitudeBound = bound;
        checkBound();
    }

    /** Adds a client's update from the logic layer, dense or sparse (a sparse one costs its coordinates only). */
    void add(int client, Update update, double w) {
        if (!(w > 0) || !Double.isFinite(w)) {
            throw new IllegalArgumentException("client " + client + " sent " + name + " with weight " + w + " (must be positive)");
        }
        if (length() >= 0 && length() != update.length()) {
            throw new IllegalStateException("client " + client + " sent " + update.length() + " values of " + name + ", others " + length());
        }
        double[] values = update.values();
        double largest = 0;
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                throw new ArithmeticException("client " + client + " sent a non-finite value of " + name + " (training diverged: lower train.lr)");
            }
            largest = Math.max(largest, Math.abs(values[i]));
        }
        magnitudeBound += w * largest * SCALE;
        weight += Math.round(w * SCALE);
        checkBound();
        toSums(update.length());
        int[] indices = update.indices();
        boolean integral = w == Math.rint(w) && w < 0x1p31;
        long n = (long) w;
        for (int j = 0; j < values.length; j++) {
            int i = indices == null ? j : indices[j];
            sums[i] += integral ? n * fixed(values[j]) : fixed(w * values[j]);
        }
    }

    /**
     * base + sum_k w_k x_k / sum_k w_k for updates x_k relative to base: with integral weights computed on the
     * integers, so that it is bit for bit the mean of the models base + x_k.
     */
    public float[] meanAround(float[] base) {
        requireValues();
        toSums(length());
        if (base.length != sums.length) {
            throw new IllegalArgumentException("a base of " + base.length + " values for sums of " + sums.length);
        }
        float[] mean = new float[sums.length];
        double divisor = weight;
        boolean integral = (weight & 0xFFFFFFFFL) == 0;
        long total = weight >> FRACTION_BITS;
        for (int i = 0; i < sums.length; i++) {
            mean[i] = integral ? (float) ((sums[i] + total * fixed(base[i])) / divisor) : (float) (base[i] + sums[i] / divisor);
        }
        return mean;
    }

    /** Adds w * vector to the fixed-point sums. */
    private void accumulate(float[] vector, double w) {
        toSums(vector.length);
        addFixedPoint(vector, w);
    }

    /** From here on in fixed point: moves a held single vector into the sums. */
    private void toSums(int length) {
        if (sums == null) {
            sums = new long[length];
            if (single != null) {
                addFixedPoint(single, singleWeight);
                single = null;
            }
        }
    }

    private void addFixedPoint(float[] vector, double w) {
        if (w == Math.rint(w) && w < 0x1p31) {
            long n = (long) w;
            for (int i = 0; i < vector.length; i++) {
                sums[i] += n * fixedFloat(vector[i]);
            }
        } else {
            for (int i = 0; i < vector.length; i++) {
                sums[i] += Math.round(w * vector[i] * SCALE);
            }
        }
    }

    /** sum_k w_k. */
    public double weight() {
        return weight / SCALE;
    }

    /** The weighted mean sum_k w_k x_k / sum_k w_k. */
    public float[] mean() {
        requireValues();
        toSums(length());
        float[] mean = new float[sums.length];
        double divisor = weight;
        for (int i = 0; i < sums.length; i++) {
            mean[i] = (float) (sums[i] / divisor);
        }
        return mean;
    }

    /** sum_k w_k x_k, for strategies that divide by something else than the total weight (e.g. SCAFFOLD's N). */
    public double[] sum() {
        requireValues();
        toSums(length());
        double[] sum = new double[sums.length];
        for (int i = 0; i < sums.length; i++) {
            sum[i] = sums[i] / SCALE;
        }
        return sum;
    }

    private void requireValues() {
        if (length() < 0) {
            throw new IllegalStateException("no client with examples sent " + name + " in the round");
        }
    }

    private void checkBound() {
        if (magnitudeBound >= LIMIT) {
            throw new ArithmeticException("weighted sum of " + name + " out of the fixed-point range: values too large for "
                    + "their weights (training diverged: lower train.lr)");
        }
    }
}
