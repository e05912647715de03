package fedspark.engine

import fedspark.engine.evaluation.Evaluator
import java.util.{List => JList}

import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.fs.Path
import org.apache.spark.api.java.JavaSparkContext
import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.aggregate.{Aggregate, WeightedSum}
import fedspark.engine.strategy.{ClientResult, ClientUpdate, FedAvg, Strategy, StrategyContext}
import fedspark.models.InputShape
import fedspark.testing.{LocalSpark, TestData}

/**
 * The same run through genuinely different aggregation trees: 16 task slots, so each of the 12 sampled clients is its
 * own task and partial sum, merged at treeAggregate depths 1 (on the driver, in the order tasks finish), 2 and 4.
 * The fixed-point sum gives the same bits every time; a float sum in the same place does not.
 */
class AggregationTreeSuite extends AnyFunSuite with LocalSpark {

  override protected def sparkConf: Map[String, String] = Map("spark.default.parallelism" -> "16")

  private val side = 8
  private val classes = 4
  private val d = side * side
  private val sizes = Seq(30, 12, 41, 25, 8, 33, 19, 27, 36, 14, 22, 40, 17, 29)
  private lazy val root = TestData.writeClients(spark, fresh("clients"), sizes, side, classes, 13L)
  private lazy val testRows = TestData.table(spark, 200, side, classes, 99L).collectAsList()

  private def settings(depth: Int, seed: Long = 21L) =
    new TrainSettings("mcmahan-2nn", 3, 12.0 / 14, 2, 7, 0.1, seed, "fedavg", depth, TrainSettings.LocalStep.AUTO)

  /** Trains with `strategy(settings, model)`; returns the final parameters and the metrics. */
  private def train(s: TrainSettings, strategy: (TrainSettings, ModelSpec) => Strategy[_]): (Array[Float], Seq[RoundMetrics]) = {
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    val model = new ModelSpec(s.model, InputShape.ofFlatSize(d), classes, s.learningRate)
    val shards = new ClientShardRDD(jsc.sc, new Path(root), sizes.size, d, classes).toJavaRDD()
    try {
      val run = new FederatedRun(jsc, shards, model, s, strategy(s, model), new Evaluator(model, s.localStep, testRows))
      val metrics = ArrayBuffer[RoundMetrics]()
      val result = run.train(run.initialParameters(), 1, (m, _) => metrics += m)
      (result, metrics.toSeq)
    } finally ShardCache.shared().evict(root)
  }

  private def fixedPoint(s: TrainSettings, model: ModelSpec): Strategy[_] = TestRuns.strategy(s, model, sizes.size)

  private def floatSum(s: TrainSettings, model: ModelSpec): Strategy[_] =
    new FloatFedAvg(new StrategyContext(s, model, com.typesafe.config.ConfigFactory.empty(), sizes.size))

  test("one seed gives the same bits at aggregation depths 1, 2 and 4 with 12 partial sums; another seed differs") {
    val runs = Seq(1, 2, 4).map(depth => train(settings(depth), fixedPoint))
    def withoutTime(m: RoundMetrics) = (m.round, m.clients, m.samples, m.trainLoss, m.testLoss, m.testAccuracy)
    for ((parameters, metrics) <- runs.tail) {
      assert(parameters.sameElements(runs.head._1))
      assert(metrics.map(withoutTime) == runs.head._2.map(withoutTime))
    }
    assert(runs.head._2.forall(_.clients == 12))
    assert(!train(settings(1, 22L), fixedPoint)._1.sameElements(runs.head._1))
  }

  test("a float accumulator in the same place gives different bits for different trees (what the fixed point prevents)") {
    val runs = Seq(1, 2, 4).map(depth => train(settings(depth), floatSum)._1)
    assert(runs.combinations(2).exists { case Seq(a, b) => !a.sameElements(b) },
      "three aggregation trees gave identical float sums: the test no longer tells trees apart")
  }
}

/** FedAvg with a plain float accumulator: a sum whose result depends on the order of additions. */
class FloatFedAvg(context: StrategyContext) extends Strategy[FloatSum](context) {
  private val fedavg = new FedAvg(context)
  override def clientUpdate(): ClientUpdate = fedavg.clientUpdate()
  override def newAggregate(): FloatSum = new FloatSum
  override def serverStep(round: Int, global: Array[Float], aggregate: FloatSum): Array[Float] = aggregate.average
}

class FloatSum extends Aggregate[FloatSum] {
  private var sums: Array[Float] = _
  private var weight = 0f
  private var count = 0
  private var exampleCount = 0L
  private val servedClients = new java.util.ArrayList[ServedClient]()

  override def fresh(): FloatSum = new FloatSum
  override def add(result: ClientResult): FloatSum = {
    servedClients.add(ServedClient.here(result.client, result.examples))
    if (result.examples > 0) {
      if (sums == null) sums = new Array[Float](result.vector.length)
      for (i <- sums.indices) sums(i) += result.weight.toFloat * result.vector()(i)
      weight += result.weight.toFloat
      count += 1
      exampleCount += result.examples
    }
    this
  }
  override def merge(other: FloatSum): FloatSum = {
    servedClients.addAll(other.servedClients)
    if (other.sums != null) {
      if (sums == null) sums = new Array[Float](other.sums.length)
      for (i <- sums.indices) sums(i) += other.sums(i)
      weight += other.weight
      count += other.count
      exampleCount += other.exampleCount
    }
    this
  }
  def average: Array[Float] = sums.map(_ / weight)
  override def served(): JList[ServedClient] = servedClients
  override def clients(): Int = count
  override def examples(): Long = exampleCount
  override def meanLoss(): Double = 0
  override def bytes(): Long = 0
}
