package fedspark.engine;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The round's aggregator: sums n_k * w_k and n_k over the sampled clients, for the n_k / n weighted
 * average. {@link #add} folds one client in, {@link #merge} joins two partial sums: the treeAggregate
 * seqOp and combOp.
 *
 * <p>Each value is held in fixed point (a long with {@link #FRACTION_BITS} fractional bits), where addition
 * is exactly associative, so the average is the same bit for bit in whatever order Spark merges partial
 * sums; that is what makes a run reproducible on any number of executors and after task retries.
 * Sums wrap modulo 2^64 as secure-aggregation masks need; a bound on the true magnitude is kept so
 * that a sum that really overflowed is reported, never returned.
 */
public final class WeightedSum implements Serializable {

    /** Resolution 2^-32 (about 2.3e-10), far below a float's spacing at the scale of model weights. */
    public static final int FRACTION_BITS = 32;
    private static final double SCALE = 0x1p32;
    private static final double LOSS_SCALE = 0x1p24;
    private static final double LIMIT = 0x1p62;

    private long[] sums; // null until a second client: a zero value costs nothing to ship
    private float[] single; // the first client's vector, unconverted, while it is the only one
    private long singleExamples;
    private long examples;
    private int clients;
    private long lossSum;
    private long lossCount;
    private double magnitudeBound;
    private final List<ServedClient> served = new ArrayList<>();
    private final BitSet counted = new BitSet();

    /** The empty sum (treeAggregate's zero value). */
    public static WeightedSum empty() {
        return new WeightedSum();
    }

    /** Folds in one client's result, weighted by its n_k. */
    public WeightedSum add(ClientResult result) {
        serve(List.of(ServedClient.here(result.client(), result.examples())));
        if (result.examples() == 0) {
            return this; // an empty client has no weight
        }
        float[] vector = result.vector();
        if (length() >= 0 && length() != vector.length) {
            throw new IllegalStateException("client " + result.client() + " sent " + vector.length + " values, others " + length());
        }
        long n = result.examples();
        double largest = 0;
        for (int i = 0; i < vector.length; i++) {
            float v = vector[i];
            if (!Float.isFinite(v)) {
                throw new ArithmeticException("client " + result.client() + " sent a non-finite value at index " + i
                        + " (training diverged: lower train.lr)");
            }
            largest = Math.max(largest, Math.abs(v));
        }
        magnitudeBound += n * largest * SCALE;
        checkBound();
        if (length() < 0) {
            // One client so far: keep its floats, half the bytes of the fixed-point sum, until another arrives.
            single = vector;
            singleExamples = n;
        } else {
            accumulate(vector, n);
        }
        examples += n;
        clients++;
        lossSum += Math.round(result.lossSum() * LOSS_SCALE);
        lossCount += result.lossCount();
        return this;
    }

    /** Joins another partial sum into this one. */
    public WeightedSum merge(WeightedSum other) {
        serve(other.served);
        if (other.length() < 0) {
            return this;
        }
        if (length() < 0) {
            other.served.clear();
            other.served.addAll(served);
            other.counted.clear();
            other.counted.or(counted);
            return other;
        }
        if (length() != other.length()) {
            throw new IllegalStateException("partial sums of different lengths: " + length() + " and " + other.length());
        }
        if (other.single != null) {
            accumulate(other.single, other.singleExamples);
        } else {
            accumulate(null, 0);
            for (int i = 0; i < sums.length; i++) {
                sums[i] += other.sums[i];
            }
        }
        magnitudeBound += other.magnitudeBound;
        checkBound();
        examples += other.examples;
        clients += other.clients;
        lossSum += other.lossSum;
        lossCount += other.lossCount;
        return this;
    }

    /** Values per client vector, or -1 before the first client with examples. */
    private int length() {
        return sums != null ? sums.length : single != null ? single.length : -1;
    }

    /** Moves a held single client into the fixed-point sums, then adds n * vector (when vector is not null). */
    private void accumulate(float[] vector, long n) {
        if (sums == null) {
            sums = new long[single.length];
            addFixedPoint(single, singleExamples);
            single = null;
        }
        if (vector != null) {
            addFixedPoint(vector, n);
        }
    }

    private void addFixedPoint(float[] vector, long n) {
        for (int i = 0; i < vector.length; i++) {
            sums[i] += n * Math.round(vector[i] * SCALE);
        }
    }

    /** The weighted average sum(n_k * w_k) / sum(n_k). */
    public float[] average() {
        if (length() < 0) {
            throw new IllegalStateException("no client with examples took part in the round");
        }
        accumulate(null, 0);
        float[] average = new float[sums.length];
        double divisor = SCALE * examples;
        for (int i = 0; i < sums.length; i++) {
            average[i] = (float) (sums[i] / divisor);
        }
        return average;
    }

    /** Every client counted, empty ones included, with the executor and task attempt that computed it. */
    public List<ServedClient> served() {
        return List.copyOf(served);
    }

    /** Clients with examples that were added. */
    public int clients() {
        return clients;
    }

    /** n, the total of n_k. */
    public long examples() {
        return examples;
    }

    /** Mean training loss over every local step of every client. */
    public double meanLoss() {
        return lossCount == 0 ? Double.NaN : lossSum / LOSS_SCALE / lossCount;
    }

    /** Records clients as counted; a client counted twice (say, by two attempts of one task) is an error, never an average. */
    private void serve(List<ServedClient> clients) {
        for (ServedClient client : clients) {
            if (counted.get(client.client())) {
                ServedClient first = served.stream().filter(c -> c.client() == client.client()).findFirst().orElseThrow();
                throw new IllegalStateException("client " + client.client() + " counted twice in one round: attempt "
                        + first.attempt() + " on executor " + first.executor() + " and attempt " + client.attempt()
                        + " on executor " + client.executor());
            }
            counted.set(client.client());
            served.add(client);
        }
    }

    private void checkBound() {
        if (magnitudeBound >= LIMIT) {
            throw new ArithmeticException("weighted sum out of the fixed-point range: parameters too large for "
                    + "the number of examples (training diverged: lower train.lr)");
        }
    }
}
