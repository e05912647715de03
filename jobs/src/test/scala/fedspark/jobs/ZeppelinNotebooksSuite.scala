package fedspark.jobs

import java.io.{File, PrintWriter, StringWriter}
import java.nio.file.Files

import scala.collection.JavaConverters._
import scala.tools.nsc.Settings
import scala.tools.nsc.interpreter.Results

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}
import org.apache.spark.sql.SparkSession
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/**
 * Every note in notebooks/ is valid Zeppelin JSON, and its %spark paragraphs run in order in a Scala (2.12 or 2.13)
 * interpreter with a live local SparkSession bound as `spark` and `sc` and a stand-in `z`.
 */
class ZeppelinNotebooksSuite extends AnyFunSuite {

  private val notes = Option(new File("../notebooks").listFiles()).getOrElse(Array.empty[File]).filter(_.getName.endsWith(".zpln")).sorted

  test("notebooks/ holds the notes") {
    assert(notes.map(_.getName).toSeq == Seq("1-quickstart.zpln", "2-noniid-study.zpln", "3-fedavg-vs-fedsgd.zpln",
      "4-your-dataframe.zpln"))
  }

  /** The fields Zeppelin 0.10 needs to import a note. */
  private def checkZeppelinJson(note: File): JsonNode = {
    val json = new ObjectMapper().readTree(note)
    for (field <- Seq("name", "id", "paragraphs", "defaultInterpreterGroup")) assert(json.has(field), s"${note.getName}: no '$field'")
    val paragraphs = json.get("paragraphs").elements().asScala.toList
    assert(paragraphs.nonEmpty, s"${note.getName}: no paragraphs")
    for (p <- paragraphs) {
      assert(p.has("id") && p.has("text") && p.has("config"), s"${note.getName}: a paragraph lacks id, text or config")
      val interpreter = p.get("text").asText().takeWhile(!_.isWhitespace)
      assert(Set("%spark", "%md").contains(interpreter), s"${note.getName} ${p.get("id").asText()}: interpreter $interpreter")
    }
    assert(paragraphs.map(_.get("id").asText()).distinct.size == paragraphs.size, s"${note.getName}: paragraph ids repeat")
    json
  }

  // The Spark 4 line runs the quickstart and the DataFrame notes (the interpreter on Scala 2.13, Spark SQL's API); the
  // others only call what those do, and run on the first line.
  private def lines(note: File) = if (Set("2-noniid-study.zpln", "3-fedavg-vs-fedsgd.zpln")(note.getName)) Seq(FirstLineOnly) else Seq()

  for (note <- notes) test(s"${note.getName}: valid Zeppelin JSON whose %spark paragraphs run in order", lines(note): _*) {
    val json = checkZeppelinJson(note)
    val scratch = Files.createTempDirectory("fedspark-notebook-")
    val knobs = Map("fedspark.notebook.rounds" -> "2", "fedspark.notebook.examples" -> "3000",
      "fedspark.notebook.dir" -> scratch.toString, "fedspark.notebook.target" -> "0.5")
    knobs.foreach { case (k, v) => System.setProperty(k, v) }
    val spark = SparkSession.builder().master("local[2]").appName(note.getName)
      .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate()
    val output = new StringWriter()
    val settings = new Settings()
    settings.usejavacp.value = true
    val interpreter = Repl(settings, new PrintWriter(output))
    val z = new ZeppelinContextStandIn()
    try {
      interpreter.bind("spark", "org.apache.spark.sql.SparkSession", spark)
      interpreter.bind("sc", "org.apache.spark.SparkContext", spark.sparkContext)
      interpreter.bind("z", classOf[ZeppelinContextStandIn].getName, z)
      for (p <- json.get("paragraphs").elements().asScala if p.get("text").asText().startsWith("%spark")) {
        val code = p.get("text").asText().stripPrefix("%spark")
        output.getBuffer.setLength(0)
        val result = Console.withOut(new java.io.PrintStream(new java.io.OutputStream {
          override def write(b: Int): Unit = output.write(b)
        }, true))(interpreter.interpret(code))
        assert(result == Results.Success, s"${note.getName}, paragraph ${p.get("id").asText()} failed:\n$code\n--- output ---\n$output")
      }
      assert(z.shown.nonEmpty, s"${note.getName} showed no table")
      assert(z.shown.forall(_.startsWith("%table ")))
    } finally {
      interpreter.close()
      spark.stop()
      knobs.keys.foreach(System.clearProperty)
      TestData.deleteRecursively(scratch)
    }
  }
}
