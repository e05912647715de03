package fedspark.data;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.xxhash64;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

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
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.internal.column.columnindex.OffsetIndex;
import org.apache.parquet.internal.filter2.columnindex.RowRanges;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;

import scala.collection.Seq;

/**
 * Partitioned data on disk: files {@code root/part-*.parquet} of the examples sorted by client, each file a contiguous
 * range of clients (Spark's range partitioning on the client column), so the number of files grows with the data
 * (about {@link #FILE_BYTES} each) and not with K. The client index ({@link ClientIndex}, in {@code _clients}) says
 * which rows of which file are client k's; a client is read through Parquet's page index, only the pages holding its
 * rows ({@link #PAGE_BYTES} of features a page, so a single client's read goes past its own rows by at most a page
 * at either end), and a whole file at once when a task loads all its clients ({@link #readFile}).
 *
 * <p>Within a client, examples are ordered by a hash of their content, so a shard's order depends on nothing but the
 * examples (not on the order in which Spark's shuffle delivered them).
 *
 * <p>An example's features are one binary value, its floats little-endian ({@link #encodeFeatures}), where the
 * canonical table has {@code array<float>}: a shard is then read with a bulk copy per example instead of a column
 * reader call per feature.
 */
public final class ClientLayout {

    /** About this many bytes of encoded examples a file. */
    static final long FILE_BYTES = 128L << 20;
    /** Page size of the client files: bounds what a single client's read decodes beyond its own rows. */
    static final int PAGE_BYTES = 64 << 10;

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

    /** What {@link #write} leaves: the client index and each client's label counts ({@code labelCounts[k][c]}). */
    public record Written(ClientIndex index, long[][] labelCounts) {
    }

    /**
     * Writes {@code assigned} ({@code client, label, features}) under {@code root} in this layout and returns the
     * index of what was written (the caller stores it in {@code _clients}). One pass over the written files, reading
     * only their client and label columns, builds it.
     */
    public static Written write(Dataset<Row> assigned, Path root, int clients, DatasetInfo dataset) {
        long bytes = dataset.examples() * (dataset.features() * (long) Float.BYTES + 8);
        int parallelism = assigned.sparkSession().sparkContext().defaultParallelism();
        int files = (int) Math.max(1, Math.min(clients, Math.max(2L * parallelism, (bytes + FILE_BYTES - 1) / FILE_BYTES)));
        assigned.select(col(CanonicalTable.CLIENT), col(CanonicalTable.LABEL), encodeFeatures(col(CanonicalTable.FEATURES)).as(CanonicalTable.FEATURES))
                .repartitionByRange(files, col(CanonicalTable.CLIENT))
                .sortWithinPartitions(col(CanonicalTable.CLIENT), xxhash64(col(CanonicalTable.LABEL), col(CanonicalTable.FEATURES)))
                .write().mode(SaveMode.ErrorIfExists)
                .option("compression", "zstd") // binary features, 100 clients of Fashion-MNIST: 45 MB with zstd, 61 MB with Snappy
                .option("parquet.page.size", PAGE_BYTES)
                // checked from the first row on: the default first check after 100 rows makes pages of 100 examples (300 KB of FMNIST)
                .option("parquet.page.size.row.check.min", 1)
                .option("parquet.enable.dictionary", false) // a features value repeats only by chance; ints are small anyway
                .parquet(root.toString());
        return scan(JavaSparkContext.fromSparkContext(assigned.sparkSession().sparkContext()), root, clients, dataset.classes());
    }

    /** The client files under {@code root}, in name order. */
    static String[] files(Path root, Configuration hadoop) {
        try {
            FileStatus[] listed = root.getFileSystem(hadoop).listStatus(root, p -> p.getName().startsWith("part-") && p.getName().endsWith(".parquet"));
            return Arrays.stream(listed).map(s -> s.getPath().getName()).sorted().toArray(String[]::new);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
    }

    /** Builds the index of the files under {@code root}: a task per file reads its client and label columns. */
    static Written scan(JavaSparkContext jsc, Path root, int clients, int classes) {
        String[] files = files(root, jsc.hadoopConfiguration());
        SerializableHadoopConf hadoop = new SerializableHadoopConf(jsc.hadoopConfiguration());
        String rootName = root.toString();
        List<long[]> runs = files.length == 0 ? List.of() : jsc.parallelize(IntStream.range(0, files.length).boxed().toList(), files.length)
                .flatMap(f -> clientRuns(new Path(rootName, files[f]), f, classes, hadoop.get()).iterator())
                .collect();
        int[] file = new int[clients];
        Arrays.fill(file, -1);
        long[] firstRow = new long[clients];
        long[] size = new long[clients];
        long[][] labelCounts = new long[clients][classes];
        for (long[] run : runs) { // client, file, first row, n, label counts
            int k = (int) run[0];
            if (k < 0 || k >= clients) {
                throw new BadInputException(new Path(root, files[(int) run[1]]) + ": client " + k + " outside [0, " + clients + ")");
            }
            if (file[k] >= 0) {
                throw new BadInputException(root + ": client " + k + "'s examples are not in one run of rows (" + files[file[k]] + ", "
                        + files[(int) run[1]] + ")");
            }
            file[k] = (int) run[1];
            firstRow[k] = run[2];
            size[k] = run[3];
            System.arraycopy(run, 4, labelCounts[k], 0, classes);
        }
        return new Written(new ClientIndex(files, file, firstRow, size), labelCounts);
    }

    /** One file's runs of rows of one client each: {client, fileId, first row, n, label counts...}. */
    private static List<long[]> clientRuns(Path file, int fileId, int classes, Configuration hadoop) throws IOException {
        List<long[]> runs = new ArrayList<>();
        try (ParquetFileReader reader = openParquet(file, hadoop)) {
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            String createdBy = reader.getFooter().getFileMetaData().getCreatedBy();
            ColumnDescriptor clientColumn = column(schema, file, CanonicalTable.CLIENT);
            ColumnDescriptor labelColumn = column(schema, file, CanonicalTable.LABEL);
            reader.setRequestedSchema(new MessageType(schema.getName(), schema.getType(CanonicalTable.CLIENT), schema.getType(CanonicalTable.LABEL)));
            long row = 0;
            long[] run = null;
            for (PageReadStore rowGroup = reader.readNextRowGroup(); rowGroup != null; rowGroup = reader.readNextRowGroup()) {
                ColumnReadStoreImpl columns = new ColumnReadStoreImpl(rowGroup, new GroupRecordConverter(schema).getRootConverter(), schema, createdBy);
                ColumnReader clientValues = columns.getColumnReader(clientColumn);
                ColumnReader labels = columns.getColumnReader(labelColumn);
                for (long r = 0; r < rowGroup.getRowCount(); r++, row++) {
                    int client = clientValues.getInteger();
                    int label = label(labels, labelColumn, classes, file, row);
                    if (run == null || run[0] != client) {
                        if (run != null && client < run[0]) {
                            throw new BadInputException(file + ": row " + row + ": client " + client + " after client " + run[0]
                                    + " (client files are sorted by client)");
                        }
                        run = new long[4 + classes];
                        run[0] = client;
                        run[1] = fileId;
                        run[2] = row;
                        runs.add(run);
                    }
                    run[3]++;
                    run[4 + label]++;
                    clientValues.consume();
                }
            }
        }
        return runs;
    }

    /** Reads client {@code client}'s shard: only the pages of its file that hold its rows. */
    public static ClientShard read(Path root, ClientIndex index, int client, int featureSize, int classes, Configuration hadoop) {
        Path file = index.fileOf(root, client);
        return file == null ? ClientShard.empty(client, featureSize)
                : read(file, client, index.firstRow()[client], index.size()[client], featureSize, classes, hadoop);
    }

    /** Reads client {@code client}'s shard, the index read from {@code root} first (for a few reads; tasks keep the index). */
    public static ClientShard read(Path root, int client, int featureSize, int classes, Configuration hadoop) {
        ClientIndex index = ClientIndex.read(root, hadoop);
        return client < index.clients() ? read(root, index, client, featureSize, classes, hadoop) : ClientShard.empty(client, featureSize);
    }

    /** Reads client {@code client}'s {@code size} examples from row {@code firstRow} of {@code file}: only the pages holding them. */
    public static ClientShard read(Path file, int client, long firstRow, long size, int featureSize, int classes, Configuration hadoop) {
        return read(file, new int[] {client}, new long[] {firstRow}, new long[] {size}, featureSize, classes, hadoop).get(0);
    }

    /**
     * Reads the shards of {@code clients} (client {@code clients[i]}: {@code sizes[i]} examples from row
     * {@code firstRows[i]} of {@code file}) with one pass over the rows they span: a task loading a file's clients.
     */
    public static List<ClientShard> read(Path file, int[] clients, long[] firstRows, long[] sizes, int featureSize, int classes,
                                         Configuration hadoop) {
        if (clients.length == 0) {
            return List.of();
        }
        long from = Long.MAX_VALUE;
        long to = 0;
        for (int i = 0; i < clients.length; i++) {
            from = Math.min(from, firstRows[i]);
            to = Math.max(to, firstRows[i] + sizes[i]);
        }
        long[] runStarts = new long[clients.length];
        for (int i = 0; i < clients.length; i++) {
            runStarts[i] = firstRows[i] - from;
        }
        Rows rows = readRows(file, from, to - from, runStarts, sizes, featureSize, classes, hadoop);
        List<ClientShard> shards = new ArrayList<>(clients.length);
        for (int i = 0; i < clients.length; i++) {
            shards.add(slice(rows, i, clients[i], (int) runStarts[i], file, from));
        }
        return shards;
    }

    /**
     * Reads a whole canonical table (every {@code *.parquet} file of {@code dir}, in name order) as one shard, without
     * Spark: the server's test set.
     */
    public static ClientShard readTable(Path dir, int featureSize, int classes, Configuration hadoop) {
        List<Rows> parts = new ArrayList<>();
        try {
            FileSystem fs = dir.getFileSystem(hadoop);
            if (!fs.exists(dir)) {
                throw new BadInputException("no table at " + dir);
            }
            FileStatus[] files = fs.listStatus(dir, p -> p.getName().endsWith(".parquet"));
            Arrays.sort(files);
            for (FileStatus file : files) {
                parts.add(readRows(file.getPath(), 0, Long.MAX_VALUE, null, null, featureSize, classes, hadoop));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the table " + dir, e);
        }
        if (parts.size() == 1) {
            return new ClientShard(-1, featureSize, parts.get(0).runs[0], parts.get(0).labels);
        }
        int n = parts.stream().mapToInt(p -> p.labels.length).sum();
        float[] features = new float[n * featureSize];
        int[] labels = new int[n];
        int at = 0;
        for (Rows part : parts) {
            System.arraycopy(part.runs[0], 0, features, at * featureSize, part.runs[0].length);
            System.arraycopy(part.labels, 0, labels, at, part.labels.length);
            at += part.labels.length;
        }
        return new ClientShard(-1, featureSize, features, labels);
    }

    /** True when the Parquet file has a top-level column {@code name}. */
    static boolean hasColumn(Path file, String name, Configuration hadoop) {
        try (ParquetFileReader reader = openParquet(file, hadoop)) {
            return reader.getFooter().getFileMetaData().getSchema().containsField(name);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * Rows read from one file: labels and the client of each row (null when the file has no client column); features
     * decoded straight into the arrays of the runs of rows asked for (a client's shard each, or one for the whole file),
     * row {@code r}'s at {@code rowOffset[r]} of {@code rowArray[r]} (null: a row in no run, not kept).
     */
    private record Rows(int[] labels, int[] clients, int featureSize, float[][] runs, float[][] rowArray, int[] rowOffset) {
        /** Runs starting at rows {@code starts[i]} (of the rows read), {@code sizes[i]} rows each; null: one run of all {@code n}. */
        static Rows of(int n, long[] starts, long[] sizes, int featureSize, boolean hasClients, Path file, long fileRow) {
            long[] runStarts = starts == null ? new long[] {0} : starts;
            long[] runSizes = sizes == null ? new long[] {n} : sizes;
            float[][] runs = new float[runStarts.length][];
            float[][] rowArray = new float[n][];
            int[] rowOffset = new int[n];
            for (int i = 0; i < runs.length; i++) {
                int first = Math.toIntExact(runStarts[i]);
                int size = Math.toIntExact(runSizes[i]);
                runs[i] = new float[Math.multiplyExact(size, featureSize)];
                for (int r = 0; r < size; r++) {
                    if (rowArray[first + r] != null) { // two clients' rows overlap: the index is not this file's
                        throw new BadInputException(file + ": the client index (" + ClientIndex.TABLE + ") puts row " + (fileRow + first + r)
                                + " in two clients; the partitioning is damaged: partition again");
                    }
                    rowArray[first + r] = runs[i];
                    rowOffset[first + r] = r * featureSize;
                }
            }
            return new Rows(new int[n], hasClients ? new int[n] : null, featureSize, runs, rowArray, rowOffset);
        }
    }

    /**
     * Run {@code run} of {@code rows} (from row {@code offset}; row {@code fileRow + offset} of {@code file}) as client
     * {@code client}'s shard, checked against the file's client column.
     */
    private static ClientShard slice(Rows rows, int run, int client, int offset, Path file, long fileRow) {
        int n = rows.runs[run].length / rows.featureSize;
        for (int r = offset; r < offset + n; r++) {
            if (rows.clients != null && rows.clients[r] != client) {
                throw new BadInputException(file + ": row " + (fileRow + r) + " holds client " + rows.clients[r] + " where the client index ("
                        + ClientIndex.TABLE + ") puts client " + client + "; the partitioning is damaged: partition again");
            }
        }
        return new ClientShard(client, rows.featureSize, rows.runs[run], Arrays.copyOfRange(rows.labels, offset, offset + n));
    }

    /**
     * Rows {@code from .. from + count - 1} of {@code file} (to its end when fewer), their features into the runs
     * {@code runStarts}/{@code runSizes} (see {@link Rows#of}; null: one run of them all). Parquet's column readers give the
     * values straight into arrays (the record-at-a-time API builds an object per value, several times slower), and each
     * client's into its shard's own array: no copy of a whole file's floats (a preload task's hundred megabytes) is made;
     * a row group only partly wanted is read through its page index, only the pages holding the wanted rows.
     */
    private static Rows readRows(Path file, long from, long count, long[] runStarts, long[] runSizes, int featureSize, int classes,
                                 Configuration hadoop) {
        try (ParquetFileReader reader = openParquet(file, hadoop)) {
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            String createdBy = reader.getFooter().getFileMetaData().getCreatedBy();
            ColumnDescriptor labelColumn = column(schema, file, CanonicalTable.LABEL);
            ColumnDescriptor featureColumn = column(schema, file, CanonicalTable.FEATURES);
            boolean hasClients = schema.containsField(CanonicalTable.CLIENT);
            List<Type> requested = new ArrayList<>(List.of(schema.getType(CanonicalTable.LABEL), schema.getType(CanonicalTable.FEATURES)));
            if (hasClients) {
                requested.add(schema.getType(CanonicalTable.CLIENT));
            }
            reader.setRequestedSchema(new MessageType(schema.getName(), requested));
            long fileRows = reader.getRecordCount();
            long to = Math.min(fileRows, from + Math.min(count, fileRows));
            if (from > to || (count != Long.MAX_VALUE && to - from != count)) {
                throw new BadInputException(file + ": holds " + fileRows + " rows, the client index asks for rows " + from + " to " + (from + count - 1)
                        + "; the partitioning is damaged: partition again");
            }
            int n = Math.toIntExact(to - from);
            Rows rows = Rows.of(n, runStarts, runSizes, featureSize, hasClients, file, from);
            List<BlockMetaData> blocks = reader.getRowGroups();
            long blockStart = 0;
            for (int b = 0; b < blocks.size(); b++) {
                long blockRows = blocks.get(b).getRowCount();
                long lo = Math.max(from, blockStart);
                long hi = Math.min(to, blockStart + blockRows);
                if (lo < hi) {
                    if (featureColumn.getPrimitiveType().getPrimitiveTypeName() != PrimitiveTypeName.BINARY && hi - lo != blockRows) {
                        throw new IllegalStateException(file + ": array<float> features are read by whole row groups only");
                    }
                    PageReadStore pages = reader.readFilteredRowGroup(b, rowRange(lo - blockStart, hi - blockStart, blockRows));
                    ColumnReadStoreImpl columns = new ColumnReadStoreImpl(pages, new GroupRecordConverter(schema).getRootConverter(), schema, createdBy);
                    decode(columns, labelColumn, featureColumn, hasClients ? column(schema, file, CanonicalTable.CLIENT) : null,
                            rows, (int) (lo - from), (int) (hi - lo), lo, file, classes);
                }
                blockStart += blockRows;
            }
            return rows;
        } catch (org.apache.hadoop.fs.ChecksumException e) {
            throw new BadInputException(file + ": its bytes do not match their checksum (.crc file): the file is damaged; prepare the data again");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Parquet's reader of {@code file}; a file without a Parquet footer (Parquet says so in a RuntimeException) is bad input. */
    private static ParquetFileReader openParquet(Path file, Configuration hadoop) throws IOException {
        try {
            return ParquetFileReader.open(HadoopInputFile.fromPath(file, hadoop));
        } catch (RuntimeException e) {
            throw new BadInputException(file + ": not a Parquet file Parquet can open (" + e.getMessage() + "); prepare the data again", e);
        }
    }

    /** Rows {@code from .. to - 1} of a row group of {@code rows} rows, as Parquet's page-index reads take them. */
    private static RowRanges rowRange(long from, long to, long rows) {
        OffsetIndex onePage = new OffsetIndex() { // RowRanges is built from pages; this one "page" is the range
            @Override
            public int getPageCount() {
                return 1;
            }

            @Override
            public long getOffset(int page) {
                return 0;
            }

            @Override
            public int getCompressedPageSize(int page) {
                return 0;
            }

            @Override
            public long getFirstRowIndex(int page) {
                return from;
            }

            @Override
            public long getLastRowIndex(int page, long rowGroupRows) {
                return to - 1;
            }
        };
        return RowRanges.create(rows, IntStream.of(0).iterator(), onePage);
    }

    /** Decodes {@code n} rows into {@code rows} from row {@code at} on; {@code fileRow}: the file's number of the first. */
    private static void decode(ColumnReadStoreImpl columns, ColumnDescriptor labelColumn, ColumnDescriptor featureColumn, ColumnDescriptor clientColumn,
                               Rows rows, int at, int n, long fileRow, Path file, int classes) {
        ColumnReader labels = columns.getColumnReader(labelColumn);
        for (int r = 0; r < n; r++) {
            rows.labels[at + r] = label(labels, labelColumn, classes, file, fileRow + r);
        }
        if (clientColumn != null) {
            ColumnReader clients = columns.getColumnReader(clientColumn);
            for (int r = 0; r < n; r++) {
                rows.clients[at + r] = clients.getInteger();
                clients.consume();
            }
        }
        int d = rows.featureSize;
        if (featureColumn.getPrimitiveType().getPrimitiveTypeName() == PrimitiveTypeName.BINARY) {
            ColumnReader values = columns.getColumnReader(featureColumn);
            for (int r = 0; r < n; r++) {
                ByteBuffer bytes = values.getBinary().toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                if (bytes.remaining() != d * Float.BYTES) {
                    throw new BadInputException(file + ": row " + (fileRow + r) + ": " + bytes.remaining() + " bytes of features, expected "
                            + d * Float.BYTES + " (" + d + " floats)");
                }
                float[] target = rows.rowArray[at + r];
                if (target != null) {
                    bytes.asFloatBuffer().get(target, rows.rowOffset[at + r], d);
                }
                values.consume();
            }
        } else {
            // array<float> (the canonical table, read whole): one value per feature; repetition level 0 starts the next example's list.
            ColumnReader values = columns.getColumnReader(featureColumn);
            int maxDefinition = featureColumn.getMaxDefinitionLevel();
            long total = values.getTotalValueCount();
            int row = -1;
            int width = d;
            float[] target = null;
            int offset = 0;
            for (long v = 0; v < total; v++) {
                if (values.getCurrentRepetitionLevel() == 0) {
                    checkWidth(file, fileRow + row, width, d);
                    row++;
                    width = 0;
                    target = row < n ? rows.rowArray[at + row] : null;
                    offset = row < n ? rows.rowOffset[at + row] : 0;
                }
                if (values.getCurrentDefinitionLevel() == maxDefinition) {
                    if (width < d && target != null) {
                        target[offset + width] = values.getFloat();
                    }
                    width++;
                }
                values.consume();
            }
            checkWidth(file, fileRow + row, width, d);
            if (row + 1 != n) {
                throw new BadInputException(file + ": " + (row + 1) + " feature lists for " + n + " examples");
            }
        }
        for (int r = 0; r < n; r++) {
            float[] features = rows.rowArray[at + r];
            int offset = rows.rowOffset[at + r];
            for (int j = 0; features != null && j < d; j++) {
                if (!Float.isFinite(features[offset + j])) {
                    throw new BadInputException(file + ": row " + (fileRow + r) + ": feature " + j + " is " + features[offset + j]
                            + " (features must be finite)");
                }
            }
        }
    }

    private static int label(ColumnReader labels, ColumnDescriptor labelColumn, int classes, Path file, long row) {
        if (labels.getCurrentDefinitionLevel() < labelColumn.getMaxDefinitionLevel()) {
            throw new BadInputException(file + ": row " + row + ": an example without a label");
        }
        int label = labels.getInteger();
        if (label < 0 || label >= classes) {
            throw new BadInputException(file + ": row " + row + ": label " + label + " out of range [0, " + classes + ")");
        }
        labels.consume();
        return label;
    }

    private static ColumnDescriptor column(MessageType schema, Path file, String name) {
        for (ColumnDescriptor column : schema.getColumns()) {
            if (column.getPath()[0].equals(name)) {
                return column;
            }
        }
        throw new BadInputException(file + ": no column '" + name + "' (not a fedspark table)");
    }

    private static void checkWidth(Path file, long row, int width, int featureSize) {
        if (width != featureSize) {
            throw new BadInputException(file + ": row " + row + ": an example has " + width + " features, expected " + featureSize);
        }
    }
}
