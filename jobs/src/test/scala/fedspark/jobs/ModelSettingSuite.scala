package fedspark.jobs

import java.io.File
import java.util.Collections

import scala.collection.JavaConverters._

import org.apache.spark.sql.SparkSession
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.BadInputException

/** The model setting through a whole run: built-in names, definitions (inline, included, files), the header, misfits. */
class ModelSettingSuite extends AnyFunSuite with CommandLineFixture {

  private lazy val spark = SparkSession.builder().master("local[2]").appName("models").config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4").getOrCreate()

  override def afterAll(): Unit = {
    spark.stop()
    super.afterAll()
  }

  private val shipped = new File("../conf/models").getCanonicalPath

  /** Trains `name` with `model` (HOCON) over the fixture's IDX data for 2 rounds; the final parameters and the log. */
  private def run(name: String, model: String, more: String = ""): (Array[Float], Seq[String]) = {
    val log = Collections.synchronizedList(new java.util.ArrayList[String]())
    val trained = Experiment.load(experiment(name, s"model = $model\ntrain.rounds = 2\n$more"), java.util.List.of())
      .train(spark, null, line => log.add(line))
    (trained.parameters, log.asScala.toSeq)
  }

  test("the 2NN as a built-in name, a .conf file of conf/models/, an include and an inline list: the same run, bit for bit") {
    val (builtIn, log) = run("builtin", "mcmahan-2nn")
    assert(log.contains("model mcmahan-2nn on 1x8x8 images, 4 classes: 54,004 parameters; local step: lean (it covers every layer)"), log)
    val (file, fileLog) = run("file", s""""$shipped/mcmahan-2nn.conf"""")
    assert(fileLog.exists(_.startsWith(s"model $shipped/mcmahan-2nn.conf on 1x8x8 images, 4 classes: 54,004 parameters")), fileLog)
    val (included, _) = run("included", s"""{ include file("$shipped/mcmahan-2nn.conf") }""")
    val (inline, _) = run("inline", "[{type = dense, units = 200}, {type = dense, units = 200}, {type = output}]")
    for ((what, parameters) <- Seq("file" -> file, "include" -> included, "inline" -> inline)) {
      assert(parameters.sameElements(builtIn), what)
    }
  }

  test("a model whose input does not fit the data stops before training with one line naming both; data.shape gives the shape") {
    val synthetic = s"""data { source { format = synthetic, examples = 60, test-examples = 20, features = 12, classes = 3 }
                       |  prepared = "$scratch/prepared-synthetic" }""".stripMargin
    val flat = intercept[BadInputException](run("flat", "mcmahan-cnn", synthetic))
    assert(flat.getMessage == "model mcmahan-cnn takes images (channels x height x width), the data's examples are 12 values with no shape " +
      "(data.shape gives them one, e.g. [3, 32, 32])", flat.getMessage)
    assert(!new File(s"$scratch/runs").list().exists(_.startsWith("flat")), "no run folder")
    val wrong = intercept[BadInputException](run("wrong-shape", "mcmahan-cnn", synthetic + "\ndata.shape = [3, 2, 3]"))
    assert(wrong.getMessage == "data.shape [3, 2, 3] holds 18 values, the data's examples have 12", wrong.getMessage)
    val sequence = intercept[BadInputException](run("sequence", "[{type = conv2d, filters = 2, kernel = 3}, {type = output}]", "data.shape = [64]"))
    assert(sequence.getMessage == "model layers takes images (channels x height x width), the data's examples are sequences of 64 " +
      "(data.shape gives them one, e.g. [3, 32, 32])", sequence.getMessage)
  }

  test("a recurrent definition trains on sequences through DL4J's fit(), the header says so and why") {
    val (_, log) = run("lstm", "[{type = lstm, units = 3}, {type = output}]", "data.shape = [64]\ntrain.rounds = 1\ntrain.E = 1")
    assert(log.exists(line => line.startsWith("model layers on sequences of 64, 4 classes: ") &&
      line.endsWith("local step: DL4J fit() (the lean step lacks layer 0: LastTimeStep)")), log)
  }
}
