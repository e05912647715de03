package fedspark.data

import java.nio.charset.StandardCharsets
import java.nio.file.Files

import scala.collection.JavaConverters._

import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.{LocalSpark, TestData}

/** LEAF Shakespeare against hand-made JSON whose every character is known. */
class ShakespeareSourceSuite extends AnyFunSuite with LocalSpark {

  private val line = ("To be, or not to be: that is the question." * 2).take(80) // 80 characters
  private def json(x: Seq[String], y: Seq[String], promised: Int = -1, user: String = "HAMLET") =
    s"""{"users": ["$user"], "num_samples": [${if (promised >= 0) promised else x.size}],
       | "user_data": {"$user": {"x": [${x.map(s => "\"" + s + "\"").mkString(", ")}], "y": [${y.map(s => "\"" + s + "\"").mkString(", ")}]}}}""".stripMargin
      .getBytes(StandardCharsets.UTF_8)

  test("LEAF's 80-character vocabulary, in its order: x becomes 80 indices, y the next character's index, the user kept") {
    assert(ShakespeareSource.VOCABULARY.length == 80)
    assert(ShakespeareSource.VOCABULARY.indexOf('\n') == 0 && ShakespeareSource.VOCABULARY.indexOf('A') == 25 &&
      ShakespeareSource.VOCABULARY.indexOf('a') == 53 && ShakespeareSource.VOCABULARY.indexOf('}') == 79)
    val rows = ShakespeareSource.parse("t.json", json(Seq(line, "}" * 80), Seq("T", " ")))
    assert(rows.size == 2)
    val x = rows.get(0).getAs[Array[Float]](1)
    // T=44, o=67, ' '=1, b=54, e=57, ','=8 (\n ' ' ! " & ' ( ) , are 0 to 8)
    assert(x.take(6).toSeq == Seq(44f, 67f, 1f, 54f, 57f, 8f) && x.length == 80)
    assert(rows.get(0).getInt(0) == 44 && rows.get(0).getString(2) == "HAMLET")
    assert(rows.get(1).getAs[Array[Float]](1).forall(_ == 79f) && rows.get(1).getInt(0) == 1)
  }

  test("bad files are named with the user and example: a short x, an unknown character, a y of two characters, num_samples") {
    def error(bytes: Array[Byte]) = intercept[BadInputException](ShakespeareSource.parse("train/s.json", bytes)).getMessage
    assert(error(json(Seq(line.take(79)), Seq("a"))) == "train/s.json: user 'HAMLET', example 0: x has 79 characters, LEAF Shakespeare's have 80")
    assert(error(json(Seq(line, line.take(10) + "@" + line.drop(11)), Seq("a", "b"))) ==
      "train/s.json: user 'HAMLET', example 1, character 10 of x is '@' (U+0040), not in LEAF's 80-character vocabulary")
    assert(error(json(Seq(line), Seq("ab"))) == "train/s.json: user 'HAMLET', example 0: y is \"ab\", not one character")
    assert(error(json(Seq(line), Seq("a"), promised = 2)) == "train/s.json: user 'HAMLET': num_samples says 2, but x has 1 and y has 1 examples")
    assert(error("{\"users\": []}".getBytes(StandardCharsets.UTF_8)) == "train/s.json: not LEAF JSON, no 'num_samples' field")
    val numericY = new String(json(Seq(line), Seq("a")), StandardCharsets.UTF_8).replace("[\"a\"]", "[5]").getBytes(StandardCharsets.UTF_8)
    assert(error(numericY) == "train/s.json: user 'HAMLET', example 0: y is 5, not one character")
  }

  test("a file of two users: each user's examples under its own name, in the file's order") {
    val twoUsers = s"""{"users": ["ROMEO", "JULIET"], "num_samples": [1, 2], "user_data": {
      |"ROMEO": {"x": ["${"a" * 80}"], "y": ["b"]},
      |"JULIET": {"x": ["${"c" * 80}", "${"d" * 80}"], "y": ["e", "f"]}}}""".stripMargin.getBytes(StandardCharsets.UTF_8)
    val rows = ShakespeareSource.parse("two.json", twoUsers).asScala.map(r => (r.getString(2), r.getInt(0), r.getAs[Array[Float]](1)(0).toInt)).toSeq
    def at(c: Char) = ShakespeareSource.VOCABULARY.indexOf(c)
    assert(rows == Seq(("ROMEO", at('b'), at('a')), ("JULIET", at('e'), at('c')), ("JULIET", at('f'), at('d'))))
  }

  test("prepare writes the tables with the shape [80], 80 classes and the vocabulary beside them") {
    val folder = Files.createTempDirectory("shakespeare")
    Files.createDirectories(folder.resolve("train"))
    Files.createDirectories(folder.resolve("test"))
    Files.write(folder.resolve("train/a.json"), json(Seq(line, line), Seq("a", "b")))
    Files.write(folder.resolve("test/a.json"), json(Seq(line), Seq("c")))
    val out = fresh("prepared")
    ShakespeareSource.prepare(spark, new Path(folder.toString), new Path(out))
    val hadoop = spark.sparkContext.hadoopConfiguration
    assert(DatasetInfo.read(new Path(out, "train"), hadoop) == new DatasetInfo(2, 80, 80, java.util.Collections.singletonList(Integer.valueOf(80))))
    assert(HadoopFiles.readString(new Path(out, ShakespeareSource.VOCABULARY_FILE), hadoop).trim ==
      "\"\\n !\\\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}\"")
    assert(spark.read.parquet(s"$out/train").collect().map(_.getString(2)).toSeq == Seq("HAMLET", "HAMLET"))
    TestData.deleteRecursively(folder)
  }
}
