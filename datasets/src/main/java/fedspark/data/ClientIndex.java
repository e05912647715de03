package fedspark.data;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;

/**
 * Where each client's examples are in a partitioning ({@link ClientLayout}): the file, the first row in it and n_k
 * (client k's examples are rows {@code firstRow[k] .. firstRow[k] + size[k] - 1} of {@code files[file[k]]}; an
 * empty client has file -1). Stored as columns of the partitioning's {@code _clients} table beside its statistics.
 * O(K) numbers: 20 bytes a client, 20 MB for a million clients.
 */
public record ClientIndex(String[] files, int[] file, long[] firstRow, long[] size) implements Serializable {

    /** The table, beside the client files, that holds the index (and the partition statistics). */
    public static final String TABLE = "_clients";
    public static final String CLIENT_COLUMN = "client";
    public static final String FILE_COLUMN = "file";
    public static final String FIRST_ROW_COLUMN = "first_row";
    public static final String SIZE_COLUMN = "n";

    public int clients() {
        return size.length;
    }

    /** Client {@code client}'s file under {@code root}; null for an empty client. */
    public Path fileOf(Path root, int client) {
        return file[client] < 0 ? null : new Path(root, files[file[client]]);
    }

    /** The clients of each file, ascending (a file holds a contiguous range of clients). */
    public int[][] clientsByFile() {
        int[] count = new int[files.length];
        for (int f : file) {
            if (f >= 0) {
                count[f]++;
            }
        }
        int[][] byFile = new int[files.length][];
        for (int f = 0; f < files.length; f++) {
            byFile[f] = new int[count[f]];
        }
        int[] filled = new int[files.length];
        for (int k = 0; k < file.length; k++) {
            if (file[k] >= 0) {
                byFile[file[k]][filled[file[k]]++] = k;
            }
        }
        return byFile;
    }

    /** Total examples. */
    public long examples() {
        return Arrays.stream(size).sum();
    }

    /** Reads the index of the partitioning at {@code root} without Spark (clients 0 .. K-1, K from the table). */
    public static ClientIndex read(Path root, Configuration hadoop) {
        Path table = new Path(root, TABLE);
        Configuration projected = new Configuration(hadoop);
        projected.set(ReadSupport.PARQUET_READ_SCHEMA, "message clients { required int32 " + CLIENT_COLUMN + "; optional binary "
                + FILE_COLUMN + " (STRING); required int64 " + FIRST_ROW_COLUMN + "; required int64 " + SIZE_COLUMN + "; }");
        Map<String, Integer> fileIds = new HashMap<>();
        int clients = 0;
        int[] file = new int[1024];
        Arrays.fill(file, -1); // a client the table does not list has no examples
        long[] firstRow = new long[1024];
        long[] size = new long[1024];
        try {
            FileSystem fs = table.getFileSystem(hadoop);
            if (!fs.exists(table)) {
                throw new BadInputException("no client index at " + table + " (not a fedspark partitioning)");
            }
            FileStatus[] parts = fs.listStatus(table, p -> p.getName().endsWith(".parquet"));
            Arrays.sort(parts);
            for (FileStatus part : parts) {
                if (!ClientLayout.hasColumn(part.getPath(), FIRST_ROW_COLUMN, hadoop)) {
                    throw new BadInputException(root + " was partitioned by an earlier fedspark (a folder per client, no client index); "
                            + "remove it and partition again");
                }
                try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), part.getPath()).withConf(projected).build()) {
                    for (Group row = reader.read(); row != null; row = reader.read()) {
                        int k = row.getInteger(CLIENT_COLUMN, 0);
                        if (k >= file.length) {
                            int capacity = Math.max(k + 1, file.length * 2);
                            int filled = file.length;
                            file = Arrays.copyOf(file, capacity);
                            Arrays.fill(file, filled, capacity, -1);
                            firstRow = Arrays.copyOf(firstRow, capacity);
                            size = Arrays.copyOf(size, capacity);
                        }
                        clients = Math.max(clients, k + 1);
                        boolean stored = row.getFieldRepetitionCount(FILE_COLUMN) > 0;
                        file[k] = stored ? fileIds.computeIfAbsent(row.getString(FILE_COLUMN, 0), name -> fileIds.size()) : -1;
                        firstRow[k] = row.getLong(FIRST_ROW_COLUMN, 0);
                        size[k] = row.getLong(SIZE_COLUMN, 0);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the client index " + table, e);
        }
        String[] files = new String[fileIds.size()];
        fileIds.forEach((name, id) -> files[id] = name);
        return new ClientIndex(files, Arrays.copyOf(file, clients), Arrays.copyOf(firstRow, clients), Arrays.copyOf(size, clients));
    }
}
