package fedspark.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;

/**
 * Partitioned data on disk: {@code root/client=<k>/*.parquet} holds client k's examples (Spark's
 * {@code partitionBy("client")} layout), so one task reads one client's files and nothing else.
 */
public final class ClientLayout {

    private ClientLayout() {
    }

    public static Path clientDirectory(Path root, int client) {
        return new Path(root, CanonicalTable.CLIENT + "=" + client);
    }

    /** Reads client {@code client}'s shard; a client without a directory has no examples. */
    public static ClientShard read(Path root, int client, int featureSize, int classes, Configuration hadoop) {
        Path dir = clientDirectory(root, client);
        List<Integer> labels = new ArrayList<>();
        float[] features = new float[1024 * featureSize];
        int rows = 0;
        try {
            FileSystem fs = dir.getFileSystem(hadoop);
            if (!fs.exists(dir)) {
                return ClientShard.empty(client, featureSize);
            }
            FileStatus[] files = fs.listStatus(dir, p -> p.getName().endsWith(".parquet"));
            Arrays.sort(files); // a fixed order, so a shard is the same on every executor
            for (FileStatus file : files) {
                try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), file.getPath()).withConf(hadoop).build()) {
                    for (Group row = reader.read(); row != null; row = reader.read()) {
                        int label = row.getInteger(CanonicalTable.LABEL, 0);
                        if (label < 0 || label >= classes) {
                            throw new BadInputException(file.getPath() + ": label " + label + " out of range [0, " + classes + ")");
                        }
                        Group list = row.getGroup(CanonicalTable.FEATURES, 0);
                        int width = list.getFieldRepetitionCount(0);
                        if (width != featureSize) {
                            throw new BadInputException(file.getPath() + ": an example has " + width + " features, expected " + featureSize);
                        }
                        if ((rows + 1) * featureSize > features.length) {
                            features = Arrays.copyOf(features, features.length * 2);
                        }
                        for (int j = 0; j < width; j++) {
                            features[rows * featureSize + j] = list.getGroup(0, j).getFloat(0, 0);
                        }
                        labels.add(label);
                        rows++;
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read client " + client + " from " + dir, e);
        }
        return new ClientShard(client, featureSize, Arrays.copyOf(features, rows * featureSize),
                labels.stream().mapToInt(Integer::intValue).toArray());
    }
}
