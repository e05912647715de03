package fedspark.data

import java.io.File
import java.nio.file.Files

import scala.collection.JavaConverters._

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.RowFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.{LocalSpark, TestData}

/** What prepare says it found (labels and their counts, a warning for labels that are not 0..C-1), and shapes it refuses. */
class PreparedLabelsSuite extends AnyFunSuite with LocalSpark {

  private def table(labels: Seq[Int], features: Int) = spark.createDataFrame(
    labels.zipWithIndex.map { case (y, i) => RowFactory.create(Int.box(y), Array.fill(features)((i % 7) / 7f)) }.asJava, CanonicalTable.SCHEMA)

  test("prepare records and says each split's label counts; a label 12 among 0..9 is warned about, with the classes it leaves empty") {
    val trainLabels = (0 until 10).flatMap(c => Seq.fill(5 + c)(c)) ++ Seq(12, 12, 12)
    val testLabels = (0 until 10).flatMap(c => Seq.fill(2)(c))
    val out = new Path(fresh("prepared"))
    TableWriter.writeSplits(table(trainLabels, 6), table(testLabels, 6), out, "a test source")
    val lines = PreparedLabels.recordAndDescribe(spark, out).asScala
    val expectedTrain = trainLabels.groupBy(identity).map { case (c, ys) => c -> ys.size }.toSeq.sorted
    assert(lines.head.contains(s"${trainLabels.size} examples of 6 features") &&
      lines.head.contains(expectedTrain.map { case (c, n) => s"$c: $n" }.mkString("{", ", ", "}")), lines.head)
    assert(lines(1).contains("20 examples of 6 features") && lines(1).contains("{0: 2, 1: 2, 2: 2,"), lines(1))
    val warning = lines.find(_.startsWith("warning: the training labels are not 0..12"))
    assert(warning.exists(w => w.contains("2 of them (10, 11)") && w.contains("13 outputs")), lines.mkString("\n"))
    val recorded = PreparedLabels.read(new Path(out, "train"), spark.sparkContext.hadoopConfiguration).asScala
    assert(recorded.toSeq.sortBy(_._1).map { case (c, n) => (c.intValue, n.longValue.toInt) } == expectedTrain)
  }

  test("labels 0..C-1 in both splits: counts and no warning") {
    val out = new Path(fresh("prepared"))
    TableWriter.writeSplits(table(Seq(0, 1, 2, 3, 3, 2), 4), table(Seq(1, 0), 4), out, "a test source")
    val lines = PreparedLabels.recordAndDescribe(spark, out).asScala
    assert(lines.size == 2 && !lines.exists(_.contains("warning")), lines.mkString("\n"))
    assert(lines.head.contains("{0: 1, 1: 1, 2: 2, 3: 2}") && lines(1).contains("{0: 1, 1: 1}"))
  }

  test("a test label no training example has is warned about") {
    def counts(pairs: (Int, Long)*) = pairs.map { case (k, v) => Int.box(k) -> Long.box(v) }.toMap.asJava
    val lines = PreparedLabels.describe(new DatasetInfo(5, 3, 3), counts(0 -> 2L, 2 -> 3L), new DatasetInfo(1, 3, 3), counts(1 -> 1L)).asScala
    assert(lines.last == "warning: test labels 1 have no training example", lines.mkString("\n"))
    assert(lines.exists(_.startsWith("warning: the training labels are not 0..2: 1 of them (1)")), lines.mkString("\n"))
    val none = PreparedLabels.describe(new DatasetInfo(5, 3, 3), counts(0 -> 2L, 1 -> 1L, 2 -> 2L), new DatasetInfo(1, 3, 3), counts(2 -> 1L)).asScala
    assert(!none.exists(_.startsWith("warning")), none.mkString("\n"))
  }

  test("train and test IDX images of different shapes are refused at prepare, both files named") {
    for ((testShape, name) <- Seq((Seq(4, 16), "same size"), (Seq(6, 6), "other size"))) {
      val dir = new File(fresh("idx"))
      dir.mkdirs()
      def write(file: String, bytes: Array[Byte]) = Files.write(new File(dir, file).toPath, bytes)
      val (pixels, labels) = TestData.images(20, 8, 4, 3L)
      write("train-images-idx3-ubyte", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(20, 8, 8), pixels))
      write("train-labels-idx1-ubyte", TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(20), labels))
      write("t10k-images-idx3-ubyte", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(5) ++ testShape, pixels.take(5 * testShape.product)))
      write("t10k-labels-idx1-ubyte", TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(5), labels.take(5)))
      val out = new Path(fresh("prepared"))
      val error = intercept[BadInputException](MnistSource.prepare(spark, new Path(dir.getPath), out)).getMessage
      assert(error.contains("8 x 8") && error.contains(testShape.mkString(" x ")) && error.contains("train-images") && error.contains("t10k-images"),
        s"$name: $error")
      assert(!new File(out.toString).exists(), s"$name: nothing written")
    }
  }
}
