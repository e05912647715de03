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

    private long[] sums; // null until the first client: a zero value costs nothing to ship
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
        serve(List.of(ServedClient.here(result.client())));
        if (result.examples() == 0) {
            return this; // an empty client has no weight
        }
        float[] vector = result.vector();
        if (sums == null) {
            sums = new long[vector.length];
        } else if (sums.length != vector.length) {
            throw new IllegalStateException("client " + result.client() + " sent " + vector.length + " values, others " + sums.length);
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
            sums[i] += n * Math.round(v * SCALE);
        }
        magnitudeBound += n * largest * SCALE;
        checkBound();
        examples += n;
        clients++;
        lossSum += Math.round(result.lossSum() * LOSS_SCALE);
        lossCount += result.lossCount();
        return this;
    }

    /** Joins another partial sum into this one. */
    public WeightedSum merge(WeightedSum other) {
        serve(other.served);
        if (other.sums == null) {
            return this;
        }
        if (sums == null) {
            other.served.clear();
            other.served.addAll(served);
            other.counted.clear();
            other.counted.or(counted);
            return other;
        }
        if (sums.length != other.sums.length) {
            throw new IllegalStateException("partial sums of different lengths: " + sums.length + " and " + other.sums.length);
        }
        for (int i = 0; i < sums.length; i++) {
            sums[i] += other.sums[i];
        }
        magnitudeBound += other.magnitudeBound;
        checkBound();
        examples += other.examples;
        clients += other.clients;
        lossSum += other.lossSum;
        lossCount += other.lossCount;
        return this;
    }

    /** The weighted average sum(n_k * w_k) / sum(n_k). */
    public float[] average() {
        if (sums == null) {
            throw new IllegalStateException("no client with examples took part in the round");
        }
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
