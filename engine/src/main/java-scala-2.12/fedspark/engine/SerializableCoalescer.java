package fedspark.engine;

import org.apache.spark.rdd.PartitionCoalescer;

/** A partition coalescer Spark accepts: on Scala 2.12, RDD.coalesce checks for scala.Serializable. */
interface SerializableCoalescer extends PartitionCoalescer, scala.Serializable {
}
