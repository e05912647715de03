package fedspark.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/**
 * Synthetic(alpha, beta), the family FedProx (Li et al., MLSys 2020) and q-FFL (Li et al., ICLR 2020) train on, as
 * their repositories generate it (litian96/FedProx, {@code data/synthetic_*}/generate_*.py): 60 features, 10 classes;
 * device k holds {@code int(lognormal(4, 2)) + 50} examples; it draws a scalar u_k ~ N(0, alpha) and its model
 * W_k ~ N(u_k, 1) (60 x 10), b_k ~ N(u_k, 1), a scalar B_k ~ N(0, beta) and its feature means v_k ~ N(B_k, 1) (60);
 * its examples are x ~ N(v_k, diag(j^-1.2)), j = 1..60, labelled y = argmax(x W_k + b_k). alpha and beta are standard
 * deviations, as numpy's {@code normal(0, alpha)} takes them. The IID variant (the repositories' {@code iid = 1}) has
 * one W, b ~ N(0, 1) for all devices and x ~ N(0, diag(j^-1.2)). Each device's first int(train-fraction n_k) examples
 * are its training examples, the rest its test examples (the repositories shuffle i.i.d. draws, then split 90/10).
 * <p>Seeded: device k draws from its own generator, seeded by the seed and k (the IID variant's W, b from the seed
 * alone), so the data do not depend on how Spark slices the devices. The device, named {@code f_00000},
 * {@code f_00001}, ... as in the repositories, is the natural id {@code user} of both tables.
 */
public final class LeafSyntheticSource {

    public static final int FEATURES = 60;
    public static final int CLASSES = 10;

    private LeafSyntheticSource() {
    }

    /** One device's draw: its model, its feature means and its examples (train first, then test). */
    public record Device(int index, double u, double bigB, double[] v, double[][] w, double[] b, float[][] x, int[] y, int trainSize)
            implements java.io.Serializable {

        public int size() {
            return y.length;
        }

        public String name() {
            return name(index);
        }

        public static String name(int index) {
            return String.format("f_%05d", index);
        }
    }

    /** The diagonal of the features' covariance: (j + 1)^-1.2 for j = 0..59. */
    public static double[] covarianceDiagonal() {
        double[] diagonal = new double[FEATURES];
        for (int j = 0; j < FEATURES; j++) {
            diagonal[j] = Math.pow(j + 1, -1.2);
        }
        return diagonal;
    }

    /** int(lognormal(4, 2)) + 50, numpy's cast truncating towards zero. */
    static int size(SplittableRandom random) {
        return (int) Math.exp(4 + 2 * random.nextGaussian()) + 50;
    }

    /** Device {@code k} of the family (alpha, beta) or of the IID variant, with the seed {@code seed}. */
    public static Device device(long seed, int k, double alpha, double beta, boolean iid, double trainFraction) {
        return draw(seed, k, alpha, beta, iid, trainFraction, true);
    }

    /** Device {@code k} without its examples (x and y empty; trainSize from its size): its size, u, B, v, W and b. */
    public static Device deviceModel(long seed, int k, double alpha, double beta, boolean iid, double trainFraction) {
        return draw(seed, k, alpha, beta, iid, trainFraction, false);
    }

    /** Device {@code k}'s example count alone (its generator's first draw). */
    public static int deviceSize(long seed, int k) {
        return size(new SplittableRandom(mix(seed, k)));
    }

    private static Device draw(long seed, int k, double alpha, double beta, boolean iid, double trainFraction, boolean examples) {
        SplittableRandom random = new SplittableRandom(mix(seed, k));
        int total = size(random);
        int n = examples ? total : 0;
        double u = alpha * random.nextGaussian();
        double bigB = beta * random.nextGaussian();
        double[] v = new double[FEATURES];
        double[][] w = new double[FEATURES][CLASSES];
        double[] b = new double[CLASSES];
        if (iid) {
            SplittableRandom global = new SplittableRandom(mix(seed, -1));
            for (int j = 0; j < FEATURES; j++) {
                for (int c = 0; c < CLASSES; c++) {
                    w[j][c] = global.nextGaussian();
                }
            }
            for (int c = 0; c < CLASSES; c++) {
                b[c] = global.nextGaussian();
            }
            // v stays 0: the IID variant's x ~ N(0, Sigma)
        } else {
            for (int j = 0; j < FEATURES; j++) {
                v[j] = bigB + random.nextGaussian();
            }
            for (int j = 0; j < FEATURES; j++) {
                for (int c = 0; c < CLASSES; c++) {
                    w[j][c] = u + random.nextGaussian();
                }
            }
            for (int c = 0; c < CLASSES; c++) {
                b[c] = u + random.nextGaussian();
            }
        }
        double[] diagonal = covarianceDiagonal();
        float[][] x = new float[n][FEATURES];
        int[] y = new int[n];
        double[] drawn = new double[FEATURES];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < FEATURES; j++) {
                drawn[j] = v[j] + Math.sqrt(diagonal[j]) * random.nextGaussian();
                x[i][j] = (float) drawn[j];
            }
            int best = 0;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < CLASSES; c++) {
                double score = b[c];
                for (int j = 0; j < FEATURES; j++) {
                    score += drawn[j] * w[j][c];
                }
                if (score > bestScore) {
                    bestScore = score;
                    best = c;
                }
            }
            y[i] = best;
        }
        return new Device(k, u, bigB, v, w, b, x, y, (int) (trainFraction * total));
    }

    private static long mix(long seed, long k) {
        long z = seed * 0x9E3779B97F4A7C15L + k * 0xC2B2AE3D27D4EB4FL + 0x165667B19E3779F9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Writes {@code out/train} and {@code out/test}: {@code devices} devices' examples, each with its device as {@code user}. */
    public static void prepare(SparkSession spark, int devices, double alpha, double beta, boolean iid, double trainFraction,
                               long seed, Path out) {
        if (devices < 1 || !(alpha >= 0) || !(beta >= 0) || !(trainFraction > 0 && trainFraction < 1)) {
            throw new BadInputException("leaf-synthetic needs devices >= 1, alpha >= 0, beta >= 0 and 0 < train-fraction < 1, got "
                    + devices + ", " + alpha + ", " + beta + ", " + trainFraction);
        }
        int slices = Math.max(1, Math.min(devices, spark.sparkContext().defaultParallelism() * 4));
        JavaRDD<Device> drawn = spark.range(0, devices, 1, slices).javaRDD()
                .map(k -> device(seed, k.intValue(), alpha, beta, iid, trainFraction));
        TableWriter.writeSplits(table(spark, drawn, true), table(spark, drawn, false), out,
                "leaf-synthetic(" + alpha + ", " + beta + (iid ? ", iid" : "") + ")");
    }

    private static Dataset<Row> table(SparkSession spark, JavaRDD<Device> devices, boolean train) {
        JavaRDD<Row> rows = devices.flatMap(d -> {
            List<Row> out = new ArrayList<>();
            int from = train ? 0 : d.trainSize();
            int to = train ? d.trainSize() : d.size();
            for (int i = from; i < to; i++) {
                out.add(RowFactory.create(d.y()[i], d.x()[i], d.name()));
            }
            return out.iterator();
        });
        return spark.createDataFrame(rows, CanonicalTable.SCHEMA_WITH_USER);
    }
}
