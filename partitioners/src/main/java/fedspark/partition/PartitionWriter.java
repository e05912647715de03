package fedspark.partition;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.round;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.xxhash64;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.storage.StorageLevel;

import fedspark.data.CanonicalTable;
import fedspark.data.ClientLayout;
import fedspark.data.DatasetInfo;
import fedspark.data.HadoopFiles;
import fedspark.partition.stats.PartitionPlots;
import fedspark.partition.stats.PartitionStatistics;

/**
 * Writes a partitioning in the layout training reads ({@link fedspark.data.ClientLayout}): files of examples sorted by
 * client, the client index with the statistics ({@code _clients}, {@code _summary}) and
 * pictures ({@code _label_heatmap.png}, {@code _client_sizes.png}) beside them, and
 * {@link PartitionInfo} last, so a partitioning without it is known to be incomplete. With a local test fraction f,
 * every client's round(f n_k) examples of lowest seeded hash are its local test set instead, written in the same
 * layout (files and {@code _clients}) under {@code _local_test}.
 */
public final class PartitionWriter {

    private PartitionWriter() {
    }

    /** True when {@code root} holds a complete partitioning. */
    public static boolean isComplete(Path root, Configuration hadoop) {
        return HadoopFiles.exists(new Path(root, PartitionInfo.FILE), hadoop);
    }

    /** What {@link #write} leaves: the partitioning's info and its statistics. */
    public record Written(PartitionInfo info, PartitionStatistics statistics) {
    }

    /** The folder, beside the clients' training data, of their local test sets. */
    public static final String LOCAL_TEST = "_local_test";

    private static final String HELD_OUT = "_held_out";

    /** Without local test sets. */
    public static Written write(SparkSession spark, Path table, Partitioner partitioner, Path root) {
        return write(spark, table, partitioner, root, 0, 0);
    }

    /** Every client keeps round({@code localTestFraction} n_k) of its examples (chosen by a hash seeded with {@code seed}) as its local test set. */
    public static Written write(SparkSession spark, Path table, Partitioner partitioner, Path root, double localTestFraction, long seed) {
        if (!(localTestFraction >= 0 && localTestFraction < 1)) {
            throw new IllegalArgumentException("partition.local-test-fraction must be in [0, 1), got " + localTestFraction);
        }
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        DatasetInfo dataset = DatasetInfo.read(table, hadoop);
        Dataset<Row> assigned = partitioner.assign(spark.read().parquet(table.toString()));
        int clients = partitioner.clients(); // a natural-id partitioner knows it once it has assigned
        ClientLayout.Written train;
        long localTestExamples = 0;
        if (localTestFraction == 0) {
            train = ClientLayout.write(assigned, root, clients, dataset);
        } else {
            WindowSpec client = Window.partitionBy(CanonicalTable.CLIENT);
            // Identical examples tie in the hash order; which of them is held out makes no difference to the data.
            Dataset<Row> marked = assigned
                    .withColumn(HELD_OUT, row_number().over(client.orderBy(xxhash64(lit(seed), col(CanonicalTable.LABEL), col(CanonicalTable.FEATURES))))
                            .leq(round(count(lit(1)).over(client).multiply(localTestFraction))))
                    .persist(StorageLevel.MEMORY_AND_DISK()); // both writes see one assignment
            try {
                train = ClientLayout.write(marked.filter(col(HELD_OUT).equalTo(false)), root, clients, dataset);
                Path testRoot = new Path(root, LOCAL_TEST);
                ClientLayout.Written test = ClientLayout.write(marked.filter(col(HELD_OUT)), testRoot, clients, dataset);
                new PartitionStatistics(test.labelCounts()).write(spark, testRoot, test.index());
                localTestExamples = test.index().examples();
            } finally {
                marked.unpersist();
            }
        }
        // Statistics from the written files (the index's pass over them), so they describe exactly what training will read.
        PartitionStatistics statistics = new PartitionStatistics(train.labelCounts());
        statistics.write(spark, root, train.index());
        PartitionPlots.writeHeatmap(statistics, partitioner.id(), new Path(root, PartitionPlots.HEATMAP), hadoop);
        PartitionPlots.writeSizeHistogram(statistics, partitioner.id(), new Path(root, PartitionPlots.SIZES), hadoop);
        PartitionInfo info = new PartitionInfo(partitioner.id(), clients,
                new DatasetInfo(statistics.summary().examples(), dataset.features(), dataset.classes()), localTestExamples);
        info.write(root, hadoop);
        return new Written(info, statistics);
    }

}
