package fedspark.engine;

import org.apache.spark.rdd.PartitionCoalescer;

/** A partition coalescer Spark accepts: on Scala 2.13, scala.Serializable is java.io.Serializable (an alias Java cannot name). */
interface SerializableCoalescer extends PartitionCoalescer, java.io.Serializable {
}
