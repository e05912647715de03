package fedspark.data;

import static org.apache.spark.sql.functions.udf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnReader;
import org.apache.parquet.column.impl.ColumnReadStoreImpl;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;

import scala.collection.Seq;

/**
 * Partitioned data on disk: {@code root/client=<k>/*.parquet} holds client k's examples (Spark's
 * {@code partitionBy("client")} layout), so one task reads one client's files and nothing else.
 *
 * <p>In these files an example's features are one binary value, its floats little-endian ({@link #encodeFeatures}),
 * where the canonical table has {@code array<float>}: a client's shard is then read with a bulk copy per example
 * instead of a column reader call per feature (decoding per feature took 2.0 s of a quickstart's start, reading
 * 100 clients of Fashion-MNIST). Files with {@code array<float>} features (partitionings written before) are
 * read as well.
 */
public final class ClientLayout {

    private ClientLayout() {
    }

    /** The features column as the client layout stores it: each example's floats as one little-endian binary value. */
    public static Column encodeFeatures(Column features) {
        return ENCODE.apply(features);
    }

    private static final UserDefinedFunction ENCODE = udf((UDF1<Seq<Object>, byte[]>) values -> {
        ByteBuffer bytes = ByteBuffer.allocate(values.length() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length(); i++) {
            bytes.putFloat((Float) values.apply(i));
        }
        return bytes.array();
    }, DataTypes.BinaryType).asNonNullable();

    public static Path clientDirectory(Path root, int client) {
        return new Path(root, CanonicalTable.CLIENT + "=" + client);
    }

    /** Reads client {@code client}'s shard; a client without a directory has no examples. */
    public static ClientShard read(Path root, int client, int featureSize, int classes, Configuration hadoop) {
        Path dir = clientDirectory(root, client);
        Shard shard = new Shard(featureSize);
        try {
            FileSystem fs = dir.getFileSystem(hadoop);
            if (!fs.exists(dir)) {
                return ClientShard.empty(client, featureSize);
            }
            FileStatus[] files = fs.listStatus(dir, p -> p.getName().endsWith(".parquet"));
            Arrays.sort(files); // a fixed order, so a shard is the same on every executor
            for (FileStatus file : files) {
                readFile(file.getPath(), shard, classes, hadoop);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read client " + client + " from " + dir, e);
        }
        return new ClientShard(client, featureSize, Arrays.copyOf(shard.features, shard.rows * featureSize),
                Arrays.copyOf(shard.labels, shard.rows));
    }

    /**
     * Reads a whole canonical table (every {@code *.parquet} file of {@code dir}, in name order) as one shard, without
     * Spark: the server's test set.
     */
    public static ClientShard readTable(Path dir, int featureSize, int classes, Configuration hadoop) {
        Shard shard = new Shard(featureSize);
        try {
            FileSystem fs = dir.getFileSystem(hadoop);
            if (!fs.exists(dir)) {
                throw new BadInputException("no table at " + dir);
            }
            FileStatus[] files = fs.listStatus(dir, p -> p.getName().endsWith(".parquet"));
            Arrays.sort(files);
            for (FileStatus file : files) {
                readFile(file.getPath(), shard, classes, hadoop);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the table " + dir, e);
        }
        return new ClientShard(-1, featureSize, Arrays.copyOf(shard.features, shard.rows * featureSize), Arrays.copyOf(shard.labels, shard.rows));
    }

    /**
     * Appends one file's examples. Parquet's column readers give the label and feature values straight
     * into the arrays: the record-at-a-time API builds an object per feature value, several times slower.
     */
    private static void readFile(Path file, Shard shard, int classes, Configuration hadoop) throws IOException {
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, hadoop))) {
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            String createdBy = reader.getFooter().getFileMetaData().getCreatedBy();
            ColumnDescriptor labelColumn = column(schema, file, CanonicalTable.LABEL);
            ColumnDescriptor featureColumn = column(schema, file, CanonicalTable.FEATURES);
            int d = shard.featureSize;
            long fileRows = 0; // rows of this file before the row group
            for (PageReadStore rowGroup = reader.readNextRowGroup(); rowGroup != null; rowGroup = reader.readNextRowGroup()) {
                ColumnReadStoreImpl columns = new ColumnReadStoreImpl(rowGroup, new GroupRecordConverter(schema).getRootConverter(), schema, createdBy);
                int rows = Math.toIntExact(rowGroup.getRowCount());
                int first = shard.rows;
                shard.grow(rows);
                ColumnReader labels = columns.getColumnReader(labelColumn);
                for (int r = 0; r < rows; r++) {
                    if (labels.getCurrentDefinitionLevel() < labelColumn.getMaxDefinitionLevel()) {
                        throw new BadInputException(file + ": an example without a label");
                    }
                    int label = labels.getInteger();
                    if (label < 0 || label >= classes) {
                        throw new BadInputException(file + ": row " + (fileRows + r) + ": label " + label + " out of range [0, "
                                + classes + ")");
                    }
                    shard.labels[first + r] = label;
                    labels.consume();
                }
                if (featureColumn.getPrimitiveType().getPrimitiveTypeName() == PrimitiveTypeName.BINARY) {
                    readEncodedFeatures(columns.getColumnReader(featureColumn), file, shard, first, rows);
                    shard.rows += rows;
                    fileRows += rows;
                    continue;
                }
                // One value per feature; repetition level 0 starts the next example's list.
                ColumnReader values = columns.getColumnReader(featureColumn);
                int maxDefinition = featureColumn.getMaxDefinitionLevel();
                long total = values.getTotalValueCount();
                int row = -1;
                int width = d;
                for (long v = 0; v < total; v++) {
                    if (values.getCurrentRepetitionLevel() == 0) {
                        checkWidth(file, width, d);
                        row++;
                        width = 0;
                    }
                    if (values.getCurrentDefinitionLevel() == maxDefinition) {
                        if (width < d) {
                            shard.features[(first + row) * d + width] = values.getFloat();
                        }
                        width++;
                    }
                    values.consume();
                }
                checkWidth(file, width, d);
                if (row + 1 != rows) {
                    throw new BadInputException(file + ": " + (row + 1) + " feature lists for " + rows + " examples");
                }
                shard.rows += rows;
                fileRows += rows;
            }
        }
    }

    /** Features written by {@link #encodeFeatures}: one binary value an example, copied in bulk. */
    private static void readEncodedFeatures(ColumnReader values, Path file, Shard shard, int first, int rows) {
        int d = shard.featureSize;
        for (int r = 0; r < rows; r++) {
            ByteBuffer bytes = values.getBinary().toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            if (bytes.remaining() != d * Float.BYTES) {
                throw new BadInputException(file + ": an example has " + bytes.remaining() + " bytes of features, expected " + d * Float.BYTES
                        + " (" + d + " floats)");
            }
            bytes.asFloatBuffer().get(shard.features, (first + r) * d, d);
            values.consume();
        }
    }

    private static ColumnDescriptor column(MessageType schema, Path file, String name) {
        for (ColumnDescriptor column : schema.getColumns()) {
            if (column.getPath()[0].equals(name)) {
                return column;
            }
        }
        throw new BadInputException(file + ": no column '" + name + "' (not a fedspark client file)");
    }

    private static void checkWidth(Path file, int width, int featureSize) {
        if (width != featureSize) {
            throw new BadInputException(file + ": an example has " + width + " features, expected " + featureSize);
        }
    }

    /** A shard being filled: growable arrays of features and labels. */
    private static final class Shard {
        final int featureSize;
        float[] features;
        int[] labels = new int[256];
        int rows;

        Shard(int featureSize) {
            this.featureSize = featureSize;
            this.features = new float[256 * featureSize];
        }

        void grow(int more) {
            int needed = rows + more;
            if (needed > labels.length) {
                int capacity = Math.max(needed, labels.length * 2);
                labels = Arrays.copyOf(labels, capacity);
                features = Arrays.copyOf(features, capacity * featureSize);
            }
        }
    }
}
