package fedspark.engine.privacy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import fedspark.engine.Seeds;
import fedspark.engine.logic.Gaussian;

/**
 * An empirical privacy estimate from canary clients, in the run it audits (Andrew, Kairouz, Oh, Oprea, McMahan and
 * Suriyakumar, "One-shot Empirical Privacy Estimation for Federated Learning", ICLR 2024). N canary clients are added
 * to central DP-FedAvg's population; each has a fixed random unit direction c_j (isotropic, seeded), takes part as any
 * client does (Poisson, probability q, its own seeded draw) and, when it does, adds clip x weight-unit x c_j to the
 * round's sum: the largest update one client may send. N more directions are drawn and never inserted.
 * <p>Final model: the cosines of the model's change since round 1 with the inserted directions and with the
 * never-inserted ones; a Gaussian fitted to each (means apart, one pooled spread: {@link #estimate}), and epsilon_est
 * is the epsilon at the run's delta of telling the pair apart. All iterates: the same from each direction's largest cosine with any
 * round's model change (the attacker who sees every round's model). Neither is a bound: an estimate that exceeds the
 * accountant's epsilon shows the mechanism spends more than the accountant says; one below it shows nothing more.
 * <p>Driver memory: 2 N directions of the model's size as floats.
 */
public final class CanaryAudit {

    private static final long CANARY = 11;

    private final int canaries;
    private final double q;
    private final long seed;
    private final float[][] inserted;
    private final float[][] neverInserted;
    private float[] start; // the global model of the first round audited
    // every direction's largest cosine with a round's change, as floats so that a checkpoint keeps them exactly
    private final float[] largestInserted;
    private final float[] largestNever;
    private double lastFinal = Double.NaN;
    private double lastAll = Double.NaN;

    public CanaryAudit(int canaries, int dimension, double q, long seed) {
        if (canaries < 2) {
            throw new IllegalArgumentException("train.privacy.audit.canaries must be 0 (off) or at least 2, got " + canaries);
        }
        if ((long) canaries * dimension * 2 * Float.BYTES > Runtime.getRuntime().maxMemory() / 2) {
            throw new IllegalArgumentException("train.privacy.audit.canaries = " + canaries + " needs " + 2L * canaries * dimension
                    * Float.BYTES / (1 << 20) + " MB of driver heap for the directions (2 N x " + dimension + " floats), more than half of it");
        }
        this.canaries = canaries;
        this.q = q;
        this.seed = seed;
        this.inserted = new float[canaries][];
        this.neverInserted = new float[canaries][];
        for (int j = 0; j < canaries; j++) {
            inserted[j] = direction(dimension, Seeds.mix(seed, CANARY, 0, j));
            neverInserted[j] = direction(dimension, Seeds.mix(seed, CANARY, 1, j));
        }
        this.largestInserted = new float[canaries];
        this.largestNever = new float[canaries];
        java.util.Arrays.fill(largestInserted, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(largestNever, Float.NEGATIVE_INFINITY);
    }

    private static float[] direction(int dimension, long seed) {
        double[] values = new double[dimension];
        Gaussian.addNoise(values, 1, new SplittableRandom(seed));
        double norm = 0;
        for (double v : values) {
            norm += v * v;
        }
        norm = Math.sqrt(norm);
        float[] unit = new float[dimension];
        for (int i = 0; i < dimension; i++) {
            unit[i] = (float) (values[i] / norm);
        }
        return unit;
    }

    public int canaries() {
        return canaries;
    }

    /** Adds to the round's sum, before its noise, {@code scale} times the direction of every canary sampled this round. */
    public void insert(int round, double[] sum, double scale) {
        if (start == null) {
            throw new IllegalStateException("the canary audit inserts after observe(round's global model)");
        }
        SplittableRandom draw = new SplittableRandom(Seeds.mix(seed, CANARY, 2, round));
        for (float[] canary : inserted) {
            if (draw.nextDouble() < q) {
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += scale * canary[i];
                }
            }
        }
    }

    /** The round's global model, before its step: the first one is where the final model's change is measured from. */
    public void observe(float[] global) {
        if (start == null) {
            start = global.clone();
        }
    }

    /** After the round's step: both estimates as they stand with {@code next} the model. */
    public void measure(float[] previous, float[] next, double delta) {
        double[] round = new double[next.length];
        double[] sinceStart = new double[next.length];
        for (int i = 0; i < next.length; i++) {
            round[i] = (double) next[i] - previous[i];
            sinceStart[i] = (double) next[i] - start[i];
        }
        double roundNorm = norm(round);
        double startNorm = norm(sinceStart);
        double[] finalInserted = new double[canaries];
        double[] finalNever = new double[canaries];
        for (int j = 0; j < canaries; j++) {
            largestInserted[j] = Math.max(largestInserted[j], (float) cosine(inserted[j], round, roundNorm));
            largestNever[j] = Math.max(largestNever[j], (float) cosine(neverInserted[j], round, roundNorm));
            finalInserted[j] = cosine(inserted[j], sinceStart, startNorm);
            finalNever[j] = cosine(neverInserted[j], sinceStart, startNorm);
        }
        lastFinal = estimate(finalNever, finalInserted, delta);
        lastAll = estimate(toDoubles(largestNever), toDoubles(largestInserted), delta);
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static double norm(double[] v) {
        double squares = 0;
        for (double x : v) {
            squares += x * x;
        }
        return Math.sqrt(squares);
    }

    /** cos(c, v) for a unit c and v of norm {@code norm}; 0 for v = 0. */
    static double cosine(float[] unit, double[] v, double norm) {
        double dot = 0;
        for (int i = 0; i < v.length; i++) {
            dot += unit[i] * v[i];
        }
        return norm == 0 ? 0 : dot / norm;
    }

    /**
     * Epsilon at {@code delta} between Gaussians fitted to the null statistics and to the canaries', with one pooled
     * standard deviation: the Gaussian mechanism's reading (an isotropic direction's cosine with any fixed change has
     * variance 1/d, inserted or not; the inserted ones are shifted). Two separately fitted spreads would differ by
     * sampling error alone (about 4% for 500 canaries each), and at a small delta that difference in the tails reads
     * as an epsilon near 1 with no canary signal at all.
     */
    static double estimate(double[] nullStatistics, double[] canaryStatistics, double delta) {
        double[] fitNull = fit(nullStatistics);
        double[] fitCanary = fit(canaryStatistics);
        double pooled = Math.sqrt((fitNull[1] * fitNull[1] + fitCanary[1] * fitCanary[1]) / 2);
        return GaussianPair.epsilon(fitNull[0], pooled, fitCanary[0], pooled, delta);
    }

    /** Mean and standard deviation (n - 1). */
    static double[] fit(double[] values) {
        double mean = 0;
        for (double v : values) {
            mean += v;
        }
        mean /= values.length;
        double squares = 0;
        for (double v : values) {
            squares += (v - mean) * (v - mean);
        }
        return new double[] {mean, Math.sqrt(squares / (values.length - 1))};
    }

    /** Metrics columns: the final model's estimate and all iterates'. */
    public Map<String, Double> metrics() {
        Map<String, Double> columns = new LinkedHashMap<>();
        columns.put("epsilon_est", lastFinal);
        columns.put("epsilon_est_all", lastAll);
        return columns;
    }

    /** What a checkpoint keeps: the first model and every direction's largest cosine so far. */
    public Map<String, float[]> state() {
        Map<String, float[]> state = new LinkedHashMap<>();
        if (start != null) {
            state.put("dp_canary_start", start.clone());
            float[] largest = new float[2 * canaries];
            System.arraycopy(largestInserted, 0, largest, 0, canaries);
            System.arraycopy(largestNever, 0, largest, canaries, canaries);
            state.put("dp_canary_largest", largest);
        }
        return state;
    }

    /** Restores what {@link #state} kept, removing its entries from {@code state}. */
    public void restore(Map<String, float[]> state) {
        float[] savedStart = state.remove("dp_canary_start");
        float[] largest = state.remove("dp_canary_largest");
        if (savedStart != null) {
            start = savedStart;
        }
        if (largest != null) {
            System.arraycopy(largest, 0, largestInserted, 0, canaries);
            System.arraycopy(largest, canaries, largestNever, 0, canaries);
        }
    }
}
