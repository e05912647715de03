package fedspark.data;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * MNIST-format IDX files (MNIST, Fashion-MNIST) into the canonical table. A directory holds
 * {@code train-images-idx3-ubyte[.gz]}, {@code train-labels-idx1-ubyte[.gz]} and the same for {@code t10k}.
 */
public final class MnistSource {

    /** The split names on disk: {@code train} and {@code t10k} (the test set). */
    public static final String TRAIN = "train";
    public static final String TEST = "t10k";

    private MnistSource() {
    }

    /** Reads one images/labels pair into rows, pixel values scaled to [0, 1]. */
    public static List<Row> read(Path images, Path labels, Configuration hadoop) {
        IdxFile imageFile = IdxFile.read(images, IdxFile.IMAGES_MAGIC, hadoop);
        IdxFile labelFile = IdxFile.read(labels, IdxFile.LABELS_MAGIC, hadoop);
        if (imageFile.count() != labelFile.count()) {
            throw new BadInputException("image/label count mismatch: " + images + " holds " + imageFile.count()
                    + " images, " + labels + " holds " + labelFile.count() + " labels");
        }
        int size = imageFile.itemSize();
        byte[] pixels = imageFile.values();
        byte[] labelValues = labelFile.values();
        List<Row> rows = new ArrayList<>(imageFile.count());
        for (int i = 0; i < imageFile.count(); i++) {
            float[] features = new float[size];
            for (int j = 0; j < size; j++) {
                features[j] = (pixels[i * size + j] & 0xFF) / 255.0f;
            }
            rows.add(RowFactory.create(labelValues[i] & 0xFF, features));
        }
        return rows;
    }

    /** Finds {@code <split>-<kind>-idx?-ubyte} in {@code dir}, gzipped or not. */
    public static Path file(Path dir, String split, String kind, Configuration hadoop) {
        String base = split + "-" + kind + "-" + (kind.equals("images") ? "idx3" : "idx1") + "-ubyte";
        Path gz = new Path(dir, base + ".gz");
        Path plain = new Path(dir, base);
        if (HadoopFiles.exists(gz, hadoop)) {
            return gz;
        }
        if (HadoopFiles.exists(plain, hadoop)) {
            return plain;
        }
        throw new BadInputException("missing file: neither " + gz + " nor " + plain + " exists");
    }

    /**
     * Writes {@code out/train} and {@code out/test} as canonical Parquet tables, each with its
     * {@link DatasetInfo}. Both splits are read and checked before anything is written.
     */
    public static void prepare(SparkSession spark, Path dir, Path out) {
        prepare(spark, dir, 0, out);
    }

    /** As {@link #prepare(SparkSession, Path, Path)}, keeping only the first {@code limit} training examples when limit > 0. */
    public static void prepare(SparkSession spark, Path dir, int limit, Path out) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        int[] imageShape = checkShapes(file(dir, TRAIN, "images", hadoop), file(dir, TEST, "images", hadoop), hadoop);
        // grey images: one channel of rows x columns, the shape image models take
        List<Integer> shape = imageShape.length == 2 ? List.of(1, imageShape[0], imageShape[1]) : List.of();
        List<Row> train = read(file(dir, TRAIN, "images", hadoop), file(dir, TRAIN, "labels", hadoop), hadoop);
        if (limit > 0 && limit < train.size()) {
            train = train.subList(0, limit);
        }
        List<Row> test = read(file(dir, TEST, "images", hadoop), file(dir, TEST, "labels", hadoop), hadoop);
        int features = ((float[]) train.get(0).get(1)).length;
        int classes = 1 + train.stream().mapToInt(r -> r.getInt(0)).max().orElse(0);
        checkLabels(test, classes, dir + "/" + TEST + " labels");
        write(spark, train, new Path(out, "train"), new DatasetInfo(train.size(), features, classes, shape));
        write(spark, test, new Path(out, "test"), new DatasetInfo(test.size(), features, classes, shape));
    }

    /**
     * Refuses train and test images of different shapes (28 x 28 against 32 x 32, or 28 x 28 against 14 x 56), naming
     * both files; returns the images' dimensions (rows, columns).
     */
    private static int[] checkShapes(Path trainImages, Path testImages, Configuration hadoop) {
        int[] train = IdxFile.read(trainImages, IdxFile.IMAGES_MAGIC, hadoop).dimensions();
        int[] test = IdxFile.read(testImages, IdxFile.IMAGES_MAGIC, hadoop).dimensions();
        int[] trainShape = java.util.Arrays.copyOfRange(train, 1, train.length);
        int[] testShape = java.util.Arrays.copyOfRange(test, 1, test.length);
        if (!java.util.Arrays.equals(trainShape, testShape)) {
            throw new BadInputException("train and test images differ in shape: " + trainImages + " holds " + shape(trainShape) + " images, "
                    + testImages + " " + shape(testShape) + " images");
        }
        return trainShape;
    }

    private static String shape(int[] dimensions) {
        return java.util.Arrays.stream(dimensions).mapToObj(String::valueOf).collect(java.util.stream.Collectors.joining(" x "));
    }

    private static void checkLabels(List<Row> rows, int classes, String what) {
        for (int i = 0; i < rows.size(); i++) {
            int label = rows.get(i).getInt(0);
            if (label < 0 || label >= classes) {
                throw new BadInputException(what + ": label " + label + " of item " + i
                        + " is out of range [0, " + classes + ") seen in the training set");
            }
        }
    }

    private static void write(SparkSession spark, List<Row> rows, Path table, DatasetInfo info) {
        Dataset<Row> frame = spark.createDataFrame(rows, CanonicalTable.SCHEMA);
        frame.write().mode(SaveMode.ErrorIfExists).parquet(table.toString());
        info.write(table, spark.sparkContext().hadoopConfiguration());
    }
}
