package fedspark.data

import java.io.File
import java.nio.file.Files

import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.LocalSpark

class LeafCsvSuite extends AnyFunSuite with LocalSpark {

  private def leafFile(dir: File, name: String, users: Seq[(String, Int, Int)], numSamples: Option[Seq[Int]] = None): Unit = {
    dir.mkdirs()
    // each user: (name, examples, label offset); 3 features per example
    val listed = users.map(u => "\"" + u._1 + "\"").mkString(",")
    val counts = numSamples.getOrElse(users.map(_._2)).mkString(",")
    val data = users.map { case (user, n, offset) =>
      val x = (0 until n).map(i => s"[${i * 0.1}, 0.5, ${offset * 0.1}]").mkString(",")
      val y = (0 until n).map(i => (i + offset) % 3).mkString(",")
      s""""$user": {"x": [$x], "y": [$y]}"""
    }.mkString(",")
    Files.writeString(new File(dir, name).toPath, s"""{"users": [$listed], "num_samples": [$counts], "user_data": {$data}}""")
  }

  private def badInput(f: => Any): String = intercept[BadInputException](f).getMessage

  /** Bad input found in a Spark task: it arrives as the cause of the job's failure. */
  private def badInputInTask(f: => Any): String = {
    val failure = intercept[Exception](f)
    Iterator.iterate[Throwable](failure)(_.getCause).takeWhile(_ != null)
      .collectFirst { case e: BadInputException => e.getMessage }.getOrElse(failure.toString)
  }

  test("LEAF JSON: every user's examples, with the user as the natural id; prepare writes train and test") {
    val root = new File(fresh("leaf"))
    leafFile(new File(root, "train"), "a.json", Seq(("f0001", 4, 0), ("f0002", 2, 1)))
    leafFile(new File(root, "train"), "b.json", Seq(("f0003", 3, 2)))
    leafFile(new File(root, "test"), "a.json", Seq(("f0001", 1, 0), ("f0002", 1, 1)))
    val train = LeafSource.read(spark, new Path(root.getPath, "train"))
    assert(train.count() == 9)
    assert(train.groupBy("user").count().collect().map(r => r.getString(0) -> r.getLong(1)).toMap ==
      Map("f0001" -> 4L, "f0002" -> 2L, "f0003" -> 3L))
    val out = fresh("prepared")
    LeafSource.prepare(spark, new Path(root.getPath), new Path(out))
    assert(DatasetInfo.read(new Path(out, "train"), spark.sparkContext.hadoopConfiguration) == new DatasetInfo(9, 3, 3))
    assert(spark.read.parquet(out + "/test").columns.toSeq == Seq("label", "features", "user"))
  }

  test("LEAF JSON: num_samples that disagree with the data, and a user listed twice, are named") {
    val wrongCount = new File(fresh("leaf"))
    leafFile(wrongCount, "a.json", Seq(("u1", 3, 0), ("u2", 2, 0)), numSamples = Some(Seq(3, 5)))
    val count = badInput(LeafSource.read(spark, new Path(wrongCount.getPath)))
    assert(count.contains("'u2'") && count.contains("num_samples says 5") && count.contains("a.json"), count)

    val twiceInFile = new File(fresh("leaf"))
    leafFile(twiceInFile, "a.json", Seq(("u1", 1, 0), ("u1", 1, 0)))
    assert(badInput(LeafSource.read(spark, new Path(twiceInFile.getPath))).contains("user 'u1' is listed twice"))

    val twiceAcross = new File(fresh("leaf"))
    leafFile(twiceAcross, "a.json", Seq(("u1", 1, 0)))
    leafFile(twiceAcross, "b.json", Seq(("u1", 2, 0)))
    val across = badInput(LeafSource.read(spark, new Path(twiceAcross.getPath)))
    assert(across.contains("'u1' is listed twice") && across.contains("a.json") && across.contains("b.json"), across)

    val infinite = new File(fresh("leaf"))
    infinite.mkdirs()
    Files.writeString(new File(infinite, "d.json").toPath,
      """{"users": ["u1"], "num_samples": [2], "user_data": {"u1": {"x": [[0.5, 1.0], [1e39, 0.0]], "y": [0, 1]}}}""")
    val overflow = badInputInTask(LeafSource.read(spark, new Path(infinite.getPath)).collect())
    assert(overflow.contains("d.json") && overflow.contains("'u1'") && overflow.contains("feature 0 of example 1")
      && overflow.contains("not a finite number"), overflow)

    val notLeaf = new File(fresh("leaf"))
    notLeaf.mkdirs()
    Files.writeString(new File(notLeaf, "c.json").toPath, """{"rows": []}""")
    assert(badInput(LeafSource.read(spark, new Path(notLeaf.getPath))).contains("no 'users' field"))
  }

  test("LEAF JSON: each example's label and features as written; a label that is not a whole number is refused") {
    val root = new File(fresh("leaf"))
    leafFile(root, "a.json", Seq(("f0001", 3, 2)))
    val rows = LeafSource.read(spark, new Path(root.getPath)).collect()
      .map(r => (r.getInt(0), r.getSeq[Float](1).toList, r.getString(2))).sortBy(_._2.head).toSeq
    assert(rows == (0 until 3).map(i => ((i + 2) % 3, List((i * 0.1).toFloat, 0.5f, 0.2f), "f0001")))
    def labelsRead(y: String) = {
      val dir = new File(fresh("leaf"))
      dir.mkdirs()
      Files.writeString(new File(dir, "l.json").toPath,
        s"""{"users": ["u1"], "num_samples": [2], "user_data": {"u1": {"x": [[0.5], [1.0]], "y": $y}}}""")
      LeafSource.read(spark, new Path(dir.getPath)).collect().map(_.getInt(0)).toSeq
    }
    assert(labelsRead("[0, 2.0]") == Seq(0, 2))
    for (bad <- Seq("1.5", "\"a\"", "true")) {
      val message = badInputInTask(labelsRead(s"[0, $bad]"))
      assert(message.endsWith(s"l.json: user 'u1': label $bad of example 1 is not a class index"), message)
    }
  }

  private def csv(lines: String*): String = {
    val file = new File(fresh("data") + ".csv")
    Files.writeString(file.toPath, lines.mkString("\n"))
    file.getPath
  }

  test("CSV: label, an id kept as the natural id, every other column a scaled feature") {
    val file = csv("label,writer,p0,p1", "1,w7,0,255", "0,w8,51,102")
    val table = CsvSource.read(spark, file, "label", "writer", 255.0)
    val rows = table.orderBy("user").collect()
    assert(rows.map(_.getInt(0)).toSeq == Seq(1, 0))
    assert(rows(0).getSeq[Float](1) == Seq(0f, 1f))
    assert(rows(1).getSeq[Float](1) == Seq(0.2f, 0.4f))
    assert(rows.map(_.getString(2)).toSeq == Seq("w7", "w8"))
  }

  test("CSV: a value that is not a number, and a missing column, are named") {
    val bad = badInput(CsvSource.read(spark, csv("label,p0,p1", "1,0.5,0.1", "2,0.3,oops"), "label", "", 1.0))
    assert(bad.contains("column 'p1'") && bad.contains("'oops'"), bad)
    for (value <- Seq("NaN", "Infinity", "-1e39")) {
      val notFinite = badInput(CsvSource.read(spark, csv("label,p0,p1", "1,0.5,0.1", s"2,$value,0.2"), "label", "", 1.0))
      assert(notFinite.contains("column 'p0'") && notFinite.contains(s"'$value'") && notFinite.contains("finite"), notFinite)
    }
    val label = badInput(CsvSource.read(spark, csv("label,p0", "one,0.5"), "label", "", 1.0))
    assert(label.contains("column 'label'") && label.contains("integer"), label)
    // not truncated to 1, as a non-ANSI cast would: on Spark 3.5 and 4 alike
    val fractional = badInput(CsvSource.read(spark, csv("label,p0", "1,0.5", "1.5,0.2"), "label", "", 1.0))
    assert(fractional.contains("column 'label'") && fractional.contains("'1.5'"), fractional)
    assert(badInput(CsvSource.read(spark, csv("y,p0", "1,0.5"), "label", "", 1.0)).contains("no label column 'label'"))
    assert(badInput(CsvSource.read(spark, fresh("absent.csv"), "label", "", 1.0)).contains("missing file"))
  }
}
