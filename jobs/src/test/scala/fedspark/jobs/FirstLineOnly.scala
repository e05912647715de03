package fedspark.jobs

import org.scalatest.Tag

/**
 * Cluster tests the Spark 4 line (`-Dspark4`) leaves to the Spark 3.5 line, for CI's time: fault drills (task retries,
 * a lost executor, speculation) and YARN's client mode. That line still runs a plain run on each cluster manager and
 * spark-submit of its fedspark.jar; `-DwildcardSuites=fedspark -Dspark4.tagsToExclude=none` runs every test on it.
 */
object FirstLineOnly extends Tag("fedspark.FirstLineOnly")
