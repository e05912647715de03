package fedspark.data;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.size;

import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;

/** Checks a source's train and test tables against each other and writes them as {@code out/train}, {@code out/test}. */
final class TableWriter {

    private TableWriter() {
    }

    static void writeSplits(Dataset<Row> train, Dataset<Row> test, Path out, String source) {
        writeSplits(train, test, out, source, java.util.List.of(), 0);
    }

    /**
     * As {@link #writeSplits(Dataset, Dataset, Path, String)}, recording the examples' {@code shape} (empty: none) and, when
     * {@code knownClasses} > 0, the source's number of classes (whatever labels the training set happens to hold).
     */
    static void writeSplits(Dataset<Row> train, Dataset<Row> test, Path out, String source, java.util.List<Integer> shape, int knownClasses) {
        train = train.cache();
        test = test.cache();
        try {
            Row trainShape = shape(train, source + " train");
            Row testShape = shape(test, source + " test");
            int features = trainShape.getInt(2);
            int classes = knownClasses > 0 ? knownClasses : trainShape.getInt(1) + 1;
            if (testShape.getInt(2) != features) {
                throw new BadInputException(source + ": test examples have " + testShape.getInt(2) + " features, train examples " + features);
            }
            if (testShape.getInt(1) >= classes) {
                throw new BadInputException(source + " test: label " + testShape.getInt(1) + " is out of range [0, " + classes
                        + ") seen in the training set");
            }
            train.write().mode(SaveMode.ErrorIfExists).parquet(new Path(out, "train").toString());
            new DatasetInfo(trainShape.getLong(0), features, classes, shape).write(new Path(out, "train"), train.sparkSession().sparkContext().hadoopConfiguration());
            test.write().mode(SaveMode.ErrorIfExists).parquet(new Path(out, "test").toString());
            new DatasetInfo(testShape.getLong(0), features, classes, shape).write(new Path(out, "test"), test.sparkSession().sparkContext().hadoopConfiguration());
        } finally {
            train.unpersist();
            test.unpersist();
        }
    }

    /** count, max label, feature width; fails on negative labels, ragged or empty features, an empty table. */
    private static Row shape(Dataset<Row> table, String what) {
        Row stats = table.agg(count("*").as("n"), min(CanonicalTable.LABEL).as("minLabel"),
                max(CanonicalTable.LABEL).as("maxLabel"), min(size(col(CanonicalTable.FEATURES))).as("minWidth"),
                max(size(col(CanonicalTable.FEATURES))).as("maxWidth")).first();
        long n = stats.getLong(0);
        if (n == 0) {
            throw new BadInputException(what + ": no examples");
        }
        if (stats.getInt(1) < 0) {
            throw new BadInputException(what + ": label " + stats.getInt(1) + " is negative; labels are class indices 0, 1, ...");
        }
        if (stats.getInt(3) != stats.getInt(4) || stats.getInt(3) < 1) {
            throw new BadInputException(what + ": examples have between " + stats.getInt(3) + " and " + stats.getInt(4) + " features; all need the same number");
        }
        return RowFactory.create(n, stats.getInt(2), stats.getInt(3));
    }
}
