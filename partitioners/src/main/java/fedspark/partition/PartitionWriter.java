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

/**
 * Writes a partitioning in the layout training reads ({@link fedspark.data.ClientLayout}): one
 * directory per client with one file in it, the per-client statistics in {@code _clients}, and
 * {@link PartitionInfo} last, so a partitioning without it is known to be incomplete.
 */
public final class PartitionWriter {

    /** Per-client statistics table: client, n, label. */
    public static final String CLIENT_STATISTICS = "_clients";

    private PartitionWriter() {
    }

    /** True when {@code root} holds a complete partitioning. */
    public static boolean isComplete(Path root, Configuration hadoop) {
        return HadoopFiles.exists(new Path(root, PartitionInfo.FILE), hadoop);
    }

    public static PartitionInfo write(SparkSession spark, Path table, Partitioner partitioner, Path root) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        DatasetInfo dataset = DatasetInfo.read(table, hadoop);
        Dataset<Row> assigned = partitioner.assign(spark.read().parquet(table.toString()));
        assigned.repartition(col(CanonicalTable.CLIENT))
                .sortWithinPartitions(CanonicalTable.CLIENT)
                .write().mode(SaveMode.ErrorIfExists)
                .partitionBy(CanonicalTable.CLIENT)
                .parquet(root.toString());
        // Statistics from the written data, so they describe exactly what training will read.
        spark.read().parquet(root.toString())
                .groupBy(CanonicalTable.CLIENT, CanonicalTable.LABEL).count()
                .orderBy(CanonicalTable.CLIENT, CanonicalTable.LABEL)
                .coalesce(1)
                .write().mode(SaveMode.ErrorIfExists).parquet(new Path(root, CLIENT_STATISTICS).toString());
        PartitionInfo info = new PartitionInfo(partitioner.id(), partitioner.clients(), dataset);
        info.write(root, hadoop);
        return info;
    }
}
