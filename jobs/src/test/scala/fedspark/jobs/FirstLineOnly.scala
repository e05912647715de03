package fedspark.jobs

import org.scalatest.Tag

/**
 * Tests the Spark 4 line (`-Dspark4`) leaves to the Spark 3.5 line, for CI's time: the cluster fault drills (task
 * retries, a lost executor, speculation), YARN's client mode and two of the four notebooks. That line still runs a
 * plain run on each cluster manager, spark-submit of its fedspark.jar and the other notebooks;
 * `-DwildcardSuites=fedspark -Dspark4.tagsToExclude=none` runs every test on it.
 */
object FirstLineOnly extends Tag("fedspark.FirstLineOnly")
