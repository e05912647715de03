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
 * are brighter on its own band of features, so models can learn them.
 */
public final class SyntheticSource {

    private SyntheticSource() {
    }

    public static void prepare(SparkSession spark, long trainExamples, long testExamples, int features, int classes, long seed, Path out) {
        if (trainExamples < 1 || testExamples < 1 || features < 1 || classes < 2) {
            throw new BadInputException("synthetic data needs examples >= 1, test-examples >= 1, features >= 1 and classes >= 2");
        }
        write(spark, trainExamples, features, classes, seed, new Path(out, "train"));
        write(spark, testExamples, features, classes, seed ^ 0x5DEECE66DL, new Path(out, "test"));
    }

    private static void write(SparkSession spark, long examples, int features, int classes, long seed, Path table) {
        int slices = (int) Math.max(spark.sparkContext().defaultParallelism(), Math.min(10_000, examples / 50_000));
        JavaRDD<Row> rows = spark.range(0, examples, 1, slices).javaRDD().map(id -> example(id, features, classes, seed));
        spark.createDataFrame(rows, CanonicalTable.SCHEMA).write().mode(SaveMode.ErrorIfExists).parquet(table.toString());
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
