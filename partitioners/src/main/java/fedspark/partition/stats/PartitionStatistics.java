package fedspark.partition.stats;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import fedspark.data.CanonicalTable;
import fedspark.data.ClientIndex;

/**
 * How skewed a partitioning is: per client n_k, its label histogram, the entropy of its labels (bits)
 * and the total variation distance of its label distribution from the global one; and a summary.
 * Built from the (client, label) counts, which are small (K x C), never from the examples.
 */
public final class PartitionStatistics {

    /** Per client: the client index ({@link ClientIndex}) and these statistics. */
    public static final String CLIENTS = ClientIndex.TABLE;
    public static final String SUMMARY = "_summary";

    private final long[][] counts; // counts[k][c]
    private final long[] sizes;
    private final double[] global;

    public PartitionStatistics(long[][] counts) {
        this.counts = counts;
        int classes = counts.length == 0 ? 0 : counts[0].length;
        sizes = new long[counts.length];
        long[] perLabel = new long[classes];
        long n = 0;
        for (int k = 0; k < counts.length; k++) {
            for (int c = 0; c < classes; c++) {
                sizes[k] += counts[k][c];
                perLabel[c] += counts[k][c];
            }
            n += sizes[k];
        }
        global = new double[classes];
        for (int c = 0; c < classes; c++) {
            global[c] = n == 0 ? 0 : (double) perLabel[c] / n;
        }
    }

    /** Counts (client, label) in Spark; clients 0 .. K-1 and labels 0 .. classes-1 all appear, empty ones as zeros. */
    public static PartitionStatistics of(Dataset<Row> assigned, int clients, int classes) {
        long[][] counts = new long[clients][classes];
        for (Row r : assigned.groupBy(CanonicalTable.CLIENT, CanonicalTable.LABEL).count().collectAsList()) {
            counts[r.getInt(0)][r.getInt(1)] = r.getLong(2);
        }
        return new PartitionStatistics(counts);
    }

    public int clients() {
        return counts.length;
    }

    public int classes() {
        return global.length;
    }

    public long size(int client) {
        return sizes[client];
    }

    public long[] histogram(int client) {
        return counts[client].clone();
    }

    /** Share of each label in the client's examples (all zero for an empty client). */
    public double[] distribution(int client) {
        double[] p = new double[global.length];
        for (int c = 0; c < p.length; c++) {
            p[c] = sizes[client] == 0 ? 0 : (double) counts[client][c] / sizes[client];
        }
        return p;
    }

    /** Shannon entropy of the client's labels, in bits (0 for an empty client). */
    public double entropy(int client) {
        double h = 0;
        for (double p : distribution(client)) {
            if (p > 0) {
                h -= p * Math.log(p) / Math.log(2);
            }
        }
        return h;
    }

    /** Total variation distance between the client's label distribution and the global one, in [0, 1]; NaN when empty. */
    public double distance(int client) {
        if (sizes[client] == 0) {
            return Double.NaN;
        }
        double[] p = distribution(client);
        double d = 0;
        for (int c = 0; c < p.length; c++) {
            d += Math.abs(p[c] - global[c]);
        }
        return d / 2;
    }

    /** Min, median and max of n_k, empty clients, mean distance and entropy over non-empty clients. */
    public record Summary(int clients, long examples, int emptyClients, long minSize, long medianSize, long maxSize,
                          double meanDistance, double meanEntropy) {
        public String line() {
            return String.format(Locale.ROOT, "%d clients, %d examples, n_k min/median/max %d/%d/%d, %d empty, "
                    + "mean label distance from global %.3f, mean label entropy %.3f bits",
                    clients, examples, minSize, medianSize, maxSize, emptyClients, meanDistance, meanEntropy);
        }
    }

    public Summary summary() {
        long[] sorted = sizes.clone();
        Arrays.sort(sorted);
        int empty = 0;
        double distances = 0;
        double entropies = 0;
        long n = 0;
        for (int k = 0; k < sizes.length; k++) {
            n += sizes[k];
            if (sizes[k] == 0) {
                empty++;
            } else {
                distances += distance(k);
                entropies += entropy(k);
            }
        }
        int filled = sizes.length - empty;
        return new Summary(sizes.length, n, empty, sorted[0], sorted[sorted.length / 2], sorted[sorted.length - 1],
                filled == 0 ? Double.NaN : distances / filled, filled == 0 ? Double.NaN : entropies / filled);
    }

    /** Writes {@code root/_clients} (the client index with these statistics) and {@code root/_summary} as Parquet. */
    public void write(SparkSession spark, Path root, ClientIndex index) {
        StructType clientSchema = new StructType()
                .add(ClientIndex.CLIENT_COLUMN, DataTypes.IntegerType, false)
                .add(ClientIndex.FILE_COLUMN, DataTypes.StringType, true)
                .add(ClientIndex.FIRST_ROW_COLUMN, DataTypes.LongType, false)
                .add(ClientIndex.SIZE_COLUMN, DataTypes.LongType, false)
                .add("labels", DataTypes.createArrayType(DataTypes.LongType, false), false)
                .add("entropy", DataTypes.DoubleType, false)
                .add("distance", DataTypes.DoubleType, true);
        List<Row> rows = new ArrayList<>(sizes.length);
        for (int k = 0; k < sizes.length; k++) {
            double d = distance(k);
            rows.add(RowFactory.create(k, index.file()[k] < 0 ? null : index.files()[index.file()[k]], index.firstRow()[k], sizes[k], counts[k],
                    entropy(k), Double.isNaN(d) ? null : d));
        }
        spark.createDataFrame(rows, clientSchema).coalesce(1).write().mode(SaveMode.ErrorIfExists)
                .parquet(new Path(root, CLIENTS).toString());
        Summary s = summary();
        StructType summarySchema = new StructType()
                .add("clients", DataTypes.IntegerType, false)
                .add("examples", DataTypes.LongType, false)
                .add("empty_clients", DataTypes.IntegerType, false)
                .add("min_n", DataTypes.LongType, false)
                .add("median_n", DataTypes.LongType, false)
                .add("max_n", DataTypes.LongType, false)
                .add("mean_distance", DataTypes.DoubleType, false)
                .add("mean_entropy", DataTypes.DoubleType, false);
        spark.createDataFrame(List.of(RowFactory.create(s.clients(), s.examples(), s.emptyClients(), s.minSize(),
                        s.medianSize(), s.maxSize(), s.meanDistance(), s.meanEntropy())), summarySchema)
                .coalesce(1).write().mode(SaveMode.ErrorIfExists).parquet(new Path(root, SUMMARY).toString());
    }

}
