package fedspark.partition;

import java.io.Serializable;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Decides which client holds each example. Every scheme is seeded, so the same seed gives the same
 * assignment; the assignment runs in Spark and never brings examples to the driver.
 */
public interface Partitioner extends Serializable {

    /** Number of clients K; client ids are 0 .. K-1. */
    int clients();

    /** A short name of the scheme and its settings, used to name the partitioned data. */
    String id();

    /** The canonical table with an int column {@code client} added. */
    Dataset<Row> assign(Dataset<Row> table);
}
