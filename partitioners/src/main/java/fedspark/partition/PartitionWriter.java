package fedspark.partition;

import static org.apache.spark.sql.functions.col;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

import fedspark.data.CanonicalTable;
import fedspark.data.DatasetInfo;
import fedspark.data.HadoopFiles;
import fedspark.partition.stats.PartitionPlots;
import fedspark.partition.stats.PartitionStatistics;

/**
 * Writes a partitioning in the layout training reads ({@link fedspark.data.ClientLayout}): one
 * directory per client with one file in it, the statistics ({@code _clients}, {@code _summary}) and
 * pictures ({@code _label_heatmap.png}, {@code _client_sizes.png}) beside them, and
 * {@link PartitionInfo} last, so a partitioning without it is known to be incomplete.
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

    public static Written write(SparkSession spark, Path table, Partitioner partitioner, Path root) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        DatasetInfo dataset = DatasetInfo.read(table, hadoop);
        Dataset<Row> assigned = partitioner.assign(spark.read().parquet(table.toString()));
        assigned.repartition(col(CanonicalTable.CLIENT))
                .sortWithinPartitions(CanonicalTable.CLIENT)
                .write().mode(SaveMode.ErrorIfExists)
                .partitionBy(CanonicalTable.CLIENT)
                .parquet(root.toString());
        // Statistics from the written data, so they describe exactly what training will read.
        PartitionStatistics statistics = PartitionStatistics.of(spark.read().parquet(root.toString()),
                partitioner.clients(), dataset.classes());
        statistics.write(spark, root);
        PartitionPlots.writeHeatmap(statistics, partitioner.id(), new Path(root, PartitionPlots.HEATMAP), hadoop);
        PartitionPlots.writeSizeHistogram(statistics, partitioner.id(), new Path(root, PartitionPlots.SIZES), hadoop);
        PartitionInfo info = new PartitionInfo(partitioner.id(), partitioner.clients(),
                new DatasetInfo(statistics.summary().examples(), dataset.features(), dataset.classes()));
        info.write(root, hadoop);
        return new Written(info, statistics);
    }

    /** The statistics of a written partitioning. */
    public static PartitionStatistics statistics(SparkSession spark, Path root) {
        PartitionInfo info = PartitionInfo.read(root, spark.sparkContext().hadoopConfiguration());
        return PartitionStatistics.of(spark.read().parquet(root.toString()), info.clients(), info.dataset().classes());
    }
}
