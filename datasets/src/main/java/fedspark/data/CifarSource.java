package fedspark.data;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/**
 * CIFAR-10 and CIFAR-100 in their binary versions (Krizhevsky 2009, www.cs.toronto.edu/~kriz/cifar.html): records of
 * label bytes then 3,072 pixel bytes, a 32x32 red plane, then green, then blue. CIFAR-10: one label byte (0-9), files
 * {@code data_batch_1.bin .. data_batch_5.bin} and {@code test_batch.bin}; CIFAR-100: a coarse (0-19) then a fine
 * (0-99) label byte, files {@code train.bin} and {@code test.bin}. Pixels become features / 255 in the stored order
 * (channels x height x width); the tables record the shape [3, 32, 32].
 */
public final class CifarSource {

    public static final int PIXELS = 3 * 32 * 32;
    public static final List<Integer> SHAPE = List.of(3, 32, 32);

    /** Which CIFAR and, for CIFAR-100, which label. */
    public enum Variant {
        CIFAR10(1, 10, List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"),
                List.of("test_batch.bin")),
        CIFAR100_FINE(2, 100, List.of("train.bin"), List.of("test.bin")),
        CIFAR100_COARSE(2, 20, List.of("train.bin"), List.of("test.bin"));

        final int labelBytes;
        final int classes;
        final List<String> train;
        final List<String> test;

        Variant(int labelBytes, int classes, List<String> train, List<String> test) {
            this.labelBytes = labelBytes;
            this.classes = classes;
            this.train = train;
            this.test = test;
        }

        String describe() {
            return this == CIFAR10 ? "CIFAR-10: 1 label byte" : "CIFAR-100: 2 label bytes";
        }
    }

    private CifarSource() {
    }

    /** The examples of one binary batch file, checked: a whole number of records, every label a class. */
    public static List<Row> parse(String file, byte[] bytes, Variant variant) {
        int record = variant.labelBytes + PIXELS;
        if (bytes.length == 0 || bytes.length % record != 0) {
            throw new BadInputException(file + ": " + bytes.length + " bytes is not a whole number of " + record + "-byte records ("
                    + variant.describe() + " and 3x32x32 pixel bytes)" + (bytes.length == 0 ? "" : "; record " + (bytes.length / record + 1)
                    + " is cut after " + bytes.length % record + " bytes"));
        }
        int count = bytes.length / record;
        List<Row> rows = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int at = i * record;
            int label = bytes[at + (variant == Variant.CIFAR100_FINE ? 1 : 0)] & 0xFF;
            if (label >= variant.classes) {
                throw new BadInputException(file + ": record " + (i + 1) + " has label " + label + "; " + variant.describe().split(":")[0]
                        + (variant == Variant.CIFAR100_COARSE ? " (coarse)" : "") + " has " + variant.classes + " classes");
            }
            float[] features = new float[PIXELS];
            for (int j = 0; j < PIXELS; j++) {
                features[j] = (bytes[at + variant.labelBytes + j] & 0xFF) / 255.0f;
            }
            rows.add(RowFactory.create(label, features));
        }
        return rows;
    }

    /**
     * Writes {@code out/train} and {@code out/test} from the batch files in {@code folder}, one Spark task a file (the
     * driver holds no example); a missing file is named before any is read, a bad one before anything is written.
     */
    public static void prepare(SparkSession spark, Path folder, Variant variant, Path out) {
        TableWriter.writeSplits(read(spark, folder, variant.train, variant), read(spark, folder, variant.test, variant), out, "CIFAR " + folder,
                SHAPE, variant.classes);
    }

    private static Dataset<Row> read(SparkSession spark, Path folder, List<String> names, Variant variant) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        List<String> files = new ArrayList<>();
        for (String name : names) {
            Path file = new Path(folder, name);
            if (!HadoopFiles.exists(file, hadoop)) {
                throw new BadInputException("missing file: " + file + " (" + variant.describe().split(":")[0] + " binary version: "
                        + String.join(", ", variant.train) + ", " + String.join(", ", variant.test) + ")");
            }
            files.add(file.toString());
        }
        SerializableHadoopConf conf = new SerializableHadoopConf(hadoop);
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(files, files.size())
                .flatMap(file -> parse(file, HadoopFiles.readBytes(new Path(file), conf.get()), variant).iterator());
        return spark.createDataFrame(rows, CanonicalTable.SCHEMA);
    }
}
