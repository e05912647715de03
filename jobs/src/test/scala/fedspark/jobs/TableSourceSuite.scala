package fedspark.jobs

import java.nio.file.Files

import org.apache.spark.ml.feature.VectorAssembler
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.functions.{array, col, when}
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

  /** Who holds what after partitioning (the files' names differ between sources). */
  private def clientRows(e: Experiment) = {
    val index = spark.read.parquet(s"${e.partitionedData()}/_clients")
    index.drop(index.columns.filter(c => c.contains("file")): _*).orderBy("client").collect().map(_.toString).toSeq
  }

  /** The examples as CSV files, trained through the CSV source: the partition and the parameters every other source must give. */
  private lazy val viaCsv: (Seq[String], Array[Float]) = {
    for ((split, n, seed) <- Seq(("train", 60, 1), ("test", 20, 2))) Files.writeString(scratch.resolve(s"$split.csv"), csv(n, seed))
    val csvExperiment = experiment("csv", s"""format = csv, train = "$scratch/train.csv", test = "$scratch/test.csv"""")
    val trained = csvExperiment.train(spark, null, _ => ())
    (clientRows(csvExperiment), trained.parameters)
  }

  test("a Parquet table with a user column gives the same partition and run as the same examples through CSV") {
    val (partition, parameters) = viaCsv
    // the same examples as a Parquet table: the features one array column, the label an integer
    for (split <- Seq("train", "test")) {
      csvFrame(split).select(col("label").cast("int").as("label"), col("user"), array((0 until 6).map(j => col(s"f$j")): _*).as("x"))
        .write.parquet(s"$scratch/$split.parquet")
    }
    val viaTable = experiment("table", s"""format = table, table-format = parquet, train = "$scratch/train.parquet",
                                          |  test = "$scratch/test.parquet", feature-columns = [x]""".stripMargin)
    val trained = viaTable.train(spark, null, _ => ())
    assert(clientRows(viaTable) == partition)
    assert(trained.parameters.sameElements(parameters))
  }

  /** The CSV experiment's settings on a DataFrame source. */
  private def onFrames(train: DataFrame, test: DataFrame, prepared: String) =
    Experiment.fromDataFrame(train, test, "label", "user").set("name", "frames").set("model", "mcmahan-2nn")
      .set("data.prepared", s"$scratch/$prepared").set("output.runs", s"$scratch/runs").set("partition.scheme", "natural")
      .set("partition.column", "user").set("partition.clients", 0).set("train.rounds", 2).set("train.C", 0.6)
      .set("train.E", 1).set("train.B", 5).set("train.lr", 0.1).set("train.seed", 3)

  private def csvFrame(split: String) = spark.read.option("header", "true").option("inferSchema", "true").csv(s"$scratch/$split.csv")

  test("a DataFrame through Experiment.fromDataFrame (numeric columns, then an ML Vector) gives the same partition and run again") {
    val (partition, parameters) = viaCsv
    val columns = onFrames(csvFrame("train"), csvFrame("test"), "frames-columns")
    val run = columns.train(spark, null, _ => ())
    assert(clientRows(columns) == partition)
    assert(run.parameters.sameElements(parameters))
    // the features as one ML Vector column, as VectorAssembler writes them
    val assembler = new VectorAssembler().setInputCols((0 until 6).map(j => s"f$j").toArray).setOutputCol("features")
    def vectors(split: String) = assembler.transform(csvFrame(split)).select("label", "user", "features")
    val vector = onFrames(vectors("train"), vectors("test"), "frames-vector")
    assert(vector.train(spark, null, _ => ()).parameters.sameElements(parameters))
  }

  test("a DataFrame's prepared tables are reused for the same rows and never for others") {
    viaCsv // writes the CSV files
    val train = csvFrame("train")
    val first = onFrames(train, csvFrame("test"), "frames-reuse")
    first.prepare(spark, _ => ())
    // the same rows in another order: the fingerprint ignores row order, so the tables are reused
    val shuffled = onFrames(train.orderBy(col("f3").desc), csvFrame("test"), "frames-reuse")
    val lines = scala.collection.mutable.Buffer[String]()
    shuffled.prepare(spark, lines += _)
    assert(lines.exists(_.endsWith("(exists)")), lines)
    // one value changed: a stop that says which fingerprint it compared
    val changed = onFrames(train.withColumn("f0", when(col("f0") > 0.9, col("f0") + 0.01).otherwise(col("f0"))), csvFrame("test"), "frames-reuse")
    val stop = intercept[BadInputException](changed.prepare(spark, _ => ()))
    assert(stop.getMessage.contains("was prepared from another source (recorded: fingerprint = "), stop.getMessage)
    // by default each set of rows has a folder of its own
    def defaultFolder(rows: DataFrame) = Experiment.fromDataFrame(rows, csvFrame("test"), "label", "user").config.getString("data.prepared")
    assert(defaultFolder(train).matches("data/dataframe-[0-9a-f]{16}"), defaultFolder(train))
    assert(defaultFolder(train.limit(59)) != defaultFolder(train))
  }

  test("string labels are indexed in sorted order; a missing column and a null feature are named") {
    import spark.implicits._
    Seq(("cat", 1.0, 2.0), ("ant", 3.0, 4.0), ("bee", 5.0, 6.0)).toDF("kind", "a", "b").write.parquet(s"$scratch/strings")
    val table = fedspark.data.TableSource.load(spark, s"$scratch/strings", "parquet")
    val columns = new fedspark.data.TableSource.Columns("kind", "", java.util.List.of())
    val labels = fedspark.data.TableSource.canonical(table, columns, java.util.List.of("ant", "bee", "cat"), "t")
      .collect().map(r => r.getInt(0) -> r.getSeq[Float](1).toList).sortBy(_._1).toSeq
    assert(labels == Seq(0 -> List(3f, 4f), 1 -> List(5f, 6f), 2 -> List(1f, 2f)))
    // a test label the training set does not have is named as such (not as the index -1 it would otherwise get)
    Seq(("cat", 1.0, 2.0), ("dog", 3.0, 4.0)).toDF("kind", "a", "b").write.parquet(s"$scratch/unseen")
    val unseen = intercept[BadInputException](fedspark.data.TableSource.canonical(fedspark.data.TableSource.load(spark, s"$scratch/unseen", "parquet"),
      columns, java.util.List.of("ant", "bee", "cat"), "t"))
    assert(unseen.getMessage.startsWith("t: a row has a label the training set does not have or a null label: null, "), unseen.getMessage)
    // prepare takes the order from the training set's labels, sorted, and writes it beside the data
    Seq(("cat", 1.0, 2.0), ("ant", 3.0, 4.0), ("bee", 5.0, 6.0), ("ant", 7.0, 8.0)).toDF("kind", "a", "b").repartition(2).write.parquet(s"$scratch/strings-train")
    val prepared = new org.apache.hadoop.fs.Path(s"$scratch/strings-prepared")
    fedspark.data.TableSource.prepare(fedspark.data.TableSource.load(spark, s"$scratch/strings-train", "parquet"), table, columns, java.util.Collections.singletonList[Integer](2), prepared, "t")
    assert(java.nio.file.Files.readString(java.nio.file.Paths.get(s"$scratch/strings-prepared", fedspark.data.TableSource.LABELS_FILE)).trim
      == "[\"ant\",\"bee\",\"cat\"]")
    assert(spark.read.parquet(s"$scratch/strings-prepared/test").collect().map(r => r.getInt(0) -> r.getSeq[Float](1).head).sortBy(_._1).toSeq
      == Seq(0 -> 3f, 1 -> 5f, 2 -> 1f))
    val missing = intercept[BadInputException](fedspark.data.TableSource.canonical(table,
      new fedspark.data.TableSource.Columns("label", "", java.util.List.of()), null, "t"))
    assert(missing.getMessage == "t: no column 'label' (columns: kind, a, b)")
    Seq((1, Some(1.0)), (0, None)).toDF("label", "a").write.parquet(s"$scratch/nulls")
    val nulls = intercept[BadInputException](fedspark.data.TableSource.canonical(fedspark.data.TableSource.load(spark, s"$scratch/nulls", "parquet"),
      new fedspark.data.TableSource.Columns("label", "", java.util.List.of()), null, "t"))
    assert(nulls.getMessage.startsWith("t: a row has null or non-finite features: 0,"), nulls.getMessage)
  }
}
