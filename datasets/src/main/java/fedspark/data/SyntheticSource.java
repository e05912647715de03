package fedspark.data;

import java.util.SplittableRandom;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * Generated examples, for studies at a scale no package ships: generated in parallel by Spark, each
 * example from its own seeded generator, so the table is the same on any cluster. A label's examples
 * are brighter on its own band of features, so models can learn them. With {@code users > 0} the training examples
 * also get a natural id ({@code user}, for natural-id partitioning): users' sizes are drawn from a Pareto (power-law)
 * distribution of tail index {@code alpha} and at least one example each, the way LEAF's and Reddit's users' sizes
 * spread, and user u holds a contiguous run of example ids.
 */
public final class SyntheticSource {

    private SyntheticSource() {
    }

    /** Without natural ids. */
    public static void prepare(SparkSession spark, long trainExamples, long testExamples, int features, int classes, long seed, Path out) {
        prepare(spark, trainExamples, testExamples, features, classes, seed, 0, 2.0, out);
    }

    /** With {@code users > 0}: about {@code trainExamples} training examples over that many users of power-law sizes. */
    public static void prepare(SparkSession spark, long trainExamples, long testExamples, int features, int classes, long seed,
                               int users, double alpha, Path out) {
        if (trainExamples < 1 || testExamples < 1 || features < 1 || classes < 2) {
            throw new BadInputException("synthetic data needs examples >= 1, test-examples >= 1, features >= 1 and classes >= 2");
        }
        if (users < 0 || (users > 0 && !(alpha > 1))) {
            throw new BadInputException("synthetic users need users >= 0 and a tail index user-size-alpha > 1 (a finite mean), got "
                    + users + " and " + alpha);
        }
        long[] firstExample = users == 0 ? null : userStarts(users, trainExamples, alpha, seed);
        long examples = users == 0 ? trainExamples : firstExample[users];
        write(spark, examples, features, classes, seed, firstExample, new Path(out, "train"));
        write(spark, testExamples, features, classes, seed ^ 0x5DEECE66DL, null, new Path(out, "test"));
    }

    /**
     * Where each user's examples start (users + 1 entries, the last the total): sizes max(1, round(x_m U^(-1/alpha))),
     * U uniform seeded per user, x_m = (alpha - 1) / alpha times the mean size examples / users.
     */
    static long[] userStarts(int users, long examples, double alpha, long seed) {
        double scale = (alpha - 1) / alpha * examples / users;
        long[] starts = new long[users + 1];
        for (int u = 0; u < users; u++) {
            double uniform = 1 - new SplittableRandom(seed * 0xC2B2AE3D27D4EB4FL + u).nextDouble(); // (0, 1]
            starts[u + 1] = starts[u] + Math.max(1, Math.round(scale * Math.pow(uniform, -1 / alpha)));
        }
        return starts;
    }

    private static void write(SparkSession spark, long examples, int features, int classes, long seed, long[] userStarts, Path table) {
        int slices = (int) Math.max(spark.sparkContext().defaultParallelism(), Math.min(10_000, examples / 50_000));
        JavaRDD<Row> rows;
        if (userStarts == null) {
            rows = spark.range(0, examples, 1, slices).javaRDD().map(id -> example(id, features, classes, seed));
            spark.createDataFrame(rows, CanonicalTable.SCHEMA).write().mode(SaveMode.ErrorIfExists).parquet(table.toString());
        } else {
            org.apache.spark.broadcast.Broadcast<long[]> starts = org.apache.spark.api.java.JavaSparkContext
                    .fromSparkContext(spark.sparkContext()).broadcast(userStarts);
            rows = spark.range(0, examples, 1, slices).javaRDD().map(id -> {
                Row x = example(id, features, classes, seed);
                int found = java.util.Arrays.binarySearch(starts.value(), id);
                int user = found >= 0 ? found : -found - 2; // the last start at or before id
                return RowFactory.create(x.get(0), x.get(1), "u" + user);
            });
            spark.createDataFrame(rows, CanonicalTable.SCHEMA_WITH_USER).write().mode(SaveMode.ErrorIfExists).parquet(table.toString());
        }
        new DatasetInfo(examples, features, classes).write(table, spark.sparkContext().hadoopConfiguration());
    }

    static Row example(long id, int features, int classes, long seed) {
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + id);
        int label = random.nextInt(classes);
        float[] x = new float[features];
        for (int j = 0; j < features; j++) {
            boolean band = (long) j * classes / features == label;
            x[j] = (float) (band ? 0.5 + 0.5 * random.nextDouble() : 0.4 * random.nextDouble());
        }
        return RowFactory.create(label, x);
    }
}
