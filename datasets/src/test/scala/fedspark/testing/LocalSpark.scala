package fedspark.testing

import java.nio.file.{Files, Path}

import org.apache.spark.sql.SparkSession
import org.scalatest.{BeforeAndAfterAll, Suite}

/** A local Spark session for a suite, and a temporary folder removed after it. */
trait LocalSpark extends BeforeAndAfterAll { self: Suite =>

  /** local[2]; a suite that needs task retries overrides it with local[2,F] (F attempts per task). */
  protected def master: String = "local[2]"

  /** Further Spark settings of the suite's session. */
  protected def sparkConf: Map[String, String] = Map()

  @transient lazy val spark: SparkSession = sparkConf.foldLeft(SparkSession.builder()
    .master(master)
    .appName(getClass.getSimpleName)
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4")) { case (builder, (key, value)) => builder.config(key, value) }
    .getOrCreate()

  lazy val scratch: Path = Files.createTempDirectory("fedspark-test-")

  /** A path under the scratch folder that does not exist yet. */
  def fresh(name: String): String = scratch.resolve(name + "-" + System.nanoTime()).toString

  override def afterAll(): Unit = {
    try spark.stop()
    finally {
      TestData.deleteRecursively(scratch)
      super.afterAll()
    }
  }
}
