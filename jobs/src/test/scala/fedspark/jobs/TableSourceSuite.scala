package fedspark.jobs

import java.nio.file.Files

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.functions.{array, col}
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.BadInputException
import fedspark.testing.TestData

/** data.source.format = table: any table Spark reads, against the same examples through CSV. */
class TableSourceSuite extends AnyFunSuite with BeforeAndAfterAll {

  private val scratch = Files.createTempDirectory("fedspark-table-")
  private lazy val spark = SparkSession.builder().master("local[2]").appName("table").config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4").getOrCreate()

  override def afterAll(): Unit = {
    spark.stop()
    TestData.deleteRecursively(scratch)
  }

  /** 60 training and 20 test examples of 6 features, 3 classes, 5 users, as CSV text (label, user, f0..f5). */
  private def csv(n: Int, seed: Int): String = {
    val random = new scala.util.Random(seed)
    ("label,user," + (0 until 6).map(j => s"f$j").mkString(",")) +: (0 until n).map { i =>
      val label = random.nextInt(3)
      s"$label,u${i % 5}," + (0 until 6).map(j => f"${label * 0.5 + random.nextInt(100) / 100.0}%.2f").mkString(",")
    }
  }.mkString("\n") + "\n"

  private def experiment(name: String, source: String) = {
    val file = scratch.resolve(s"$name.conf")
    Files.writeString(file,
      s"""fedspark {
         |  name = $name
         |  model = mcmahan-2nn
         |  data { source { $source, label-column = label, id-column = user }, prepared = "$scratch/prepared-$name" }
         |  output.runs = "$scratch/runs"
         |  partition { scheme = natural, column = user, clients = 0 }
         |  train { rounds = 2, C = 0.6, E = 1, B = 5, lr = 0.1, seed = 3 }
         |}""".stripMargin)
    Experiment.load(file.toFile, java.util.List.of())
  }

  test("a Parquet table with a user column gives the same partition and run as the same examples through CSV") {
    for ((split, n, seed) <- Seq(("train", 60, 1), ("test", 20, 2))) Files.writeString(scratch.resolve(s"$split.csv"), csv(n, seed))
    val viaCsv = experiment("csv", s"""format = csv, train = "$scratch/train.csv", test = "$scratch/test.csv"""")
    // the same examples as a Parquet table: the features one array column, the label an integer
    for (split <- Seq("train", "test")) {
      val df = spark.read.option("header", "true").option("inferSchema", "true").csv(s"$scratch/$split.csv")
      df.select(col("label").cast("int").as("label"), col("user"), array((0 until 6).map(j => col(s"f$j")): _*).as("x"))
        .write.parquet(s"$scratch/$split.parquet")
    }
    val viaTable = experiment("table", s"""format = table, table-format = parquet, train = "$scratch/train.parquet",
                                          |  test = "$scratch/test.parquet", feature-columns = [x]""".stripMargin)
    val a = viaCsv.train(spark, null, _ => ())
    val b = viaTable.train(spark, null, _ => ())
    def clients(e: Experiment) = { // who holds what; the files' names differ
      val index = spark.read.parquet(s"${e.partitionedData()}/_clients")
      index.drop(index.columns.filter(c => c.contains("file")): _*).orderBy("client").collect().map(_.toString).toSeq
    }
    assert(clients(viaTable) == clients(viaCsv))
    assert(b.parameters.sameElements(a.parameters))
  }

  test("string labels are indexed in sorted order; a missing column and a null feature are named") {
    import spark.implicits._
    Seq(("cat", 1.0, 2.0), ("ant", 3.0, 4.0), ("bee", 5.0, 6.0)).toDF("kind", "a", "b").write.parquet(s"$scratch/strings")
    val table = fedspark.data.TableSource.load(spark, s"$scratch/strings", "parquet")
    val columns = new fedspark.data.TableSource.Columns("kind", "", java.util.List.of())
    val labels = fedspark.data.TableSource.canonical(table, columns, java.util.List.of("ant", "bee", "cat"), "t")
      .collect().map(r => r.getInt(0) -> r.getSeq[Float](1).toList).sortBy(_._1).toSeq
    assert(labels == Seq(0 -> List(3f, 4f), 1 -> List(5f, 6f), 2 -> List(1f, 2f)))
    val missing = intercept[BadInputException](fedspark.data.TableSource.canonical(table,
      new fedspark.data.TableSource.Columns("label", "", java.util.List.of()), null, "t"))
    assert(missing.getMessage == "t: no column 'label' (columns: kind, a, b)")
    Seq((1, Some(1.0)), (0, None)).toDF("label", "a").write.parquet(s"$scratch/nulls")
    val nulls = intercept[BadInputException](fedspark.data.TableSource.canonical(fedspark.data.TableSource.load(spark, s"$scratch/nulls", "parquet"),
      new fedspark.data.TableSource.Columns("label", "", java.util.List.of()), null, "t"))
    assert(nulls.getMessage.startsWith("t: a row has null or non-finite features: 0,"), nulls.getMessage)
  }
}
