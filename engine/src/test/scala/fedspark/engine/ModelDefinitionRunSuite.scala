package fedspark.engine

import scala.collection.mutable.ArrayBuffer

import com.typesafe.config.ConfigFactory
import org.apache.hadoop.fs.Path
import org.apache.spark.api.java.JavaSparkContext
import org.apache.spark.sql.Row
import org.nd4j.linalg.learning.config.Sgd
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.{CanonicalTable, ClientLayout, ClientShard, DatasetInfo}
import fedspark.engine.evaluation.Evaluator
import fedspark.engine.local.StepRule
import fedspark.models.{FlatParameters, InputShape, ModelDefinitions}
import fedspark.testing.{LocalSpark, TestData}

/** Models written as layer lists train through the federated round: every layer type, a wrapper layer first. */
class ModelDefinitionRunSuite extends AnyFunSuite with LocalSpark {

  private val classes = 3

  private def definition(hocon: String) =
    ModelDefinitions.read(ConfigFactory.parseString(s"model = $hocon").getValue("model"), _ => throw new AssertionError("no file"))

  /** Two clients of 6 examples each; features i.i.d. from `feature` (a token index or a value in [0, 1)). */
  private def clients(d: Int, feature: scala.util.Random => Float): (String, Seq[ClientShard]) = {
    val random = new scala.util.Random(5)
    val rows = (0 until 12).map(i => Row(i % classes, Array.fill(d)(feature(random)), i / 6))
    val assigned = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), CanonicalTable.SCHEMA.add(CanonicalTable.CLIENT, "int"))
    val root = fresh("clients")
    val index = ClientLayout.write(assigned, new Path(root), 2, new DatasetInfo(12, d, classes)).index
    TestData.writeIndex(spark, root, index)
    (root, (0 until 2).map(k => ClientLayout.read(new Path(root), k, d, classes, spark.sparkContext.hadoopConfiguration)))
  }

  private val cases = Seq(
    ("conv2d (stride, padding), batch-norm, max-pool, avg-pool, dropout, dense", InputShape.image(2, 6, 6), (r: scala.util.Random) => r.nextFloat(),
      """[{type = conv2d, filters = 3, kernel = 3, stride = 2, padding = 1}, {type = batch-norm}, {type = max-pool, kernel = 2, stride = 1},
        | {type = avg-pool, kernel = 2}, {type = dropout, rate = 0.25}, {type = dense, units = 5}, {type = output}]""".stripMargin),
    ("embedding, lstm, lstm", InputShape.sequence(7, 1), (r: scala.util.Random) => r.nextInt(classes).toFloat,
      "[{type = embedding, dim = 4}, {type = lstm, units = 6}, {type = lstm, units = 5}, {type = output}]"),
    ("a wrapper first (an lstm in LastTimeStep)", InputShape.sequence(5, 1), (r: scala.util.Random) => r.nextFloat(),
      "[{type = lstm, units = 4}, {type = output}]"))

  for ((what, in, feature, hocon) <- cases) test(s"one FedAvg round trains every layer of a definition: $what") {
    val (root, shards) = clients(in.size, feature)
    val s = new TrainSettings("layers", 1, 1.0, 1, 3, 0.1, 7L, "fedavg", 2, TrainSettings.LocalStep.AUTO)
    val model = new ModelSpec(definition(hocon), in, classes, s.learningRate, false)
    assert(!model.hasLeanStep, "DL4J fit() trains it")
    StepRule.configuredIn(model.configuration()) // a wrapper first: the updater is read from the layer it wraps
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    try {
      val run = new FederatedRun(jsc, new ClientShardRDD(jsc.sc, new Path(root), 2, in.size, classes).toJavaRDD(), model, s,
        TestRuns.strategy(s, model, 2), new Evaluator(model, s.localStep, shards.head))
      val metrics = ArrayBuffer[RoundMetrics]()
      val start = run.initialParameters()
      val end = run.train(start, 1, (m, _) => metrics += m)
      assert(metrics.size == 1 && metrics.head.clients == 2 && java.lang.Double.isFinite(metrics.head.testLoss), metrics)
      // every layer with parameters moved
      var offset = 0
      for ((size, layer) <- model.layerSizes().zipWithIndex) {
        assert((offset until offset + size).exists(i => start(i) != end(i)), s"$what: layer $layer did not move")
        offset += size
      }
    } finally ShardCache.shared().evict(root)
  }
}
