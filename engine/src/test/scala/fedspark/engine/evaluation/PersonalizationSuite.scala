package fedspark.engine.evaluation

import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.fs.Path
import org.apache.spark.api.java.JavaSparkContext
import org.nd4j.linalg.api.buffer.DataType
import org.nd4j.linalg.factory.Nd4j
import org.scalatest.concurrent.Eventually._
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

import fedspark.data.{ClientLayout, SerializableHadoopConf}
import fedspark.engine.{ClientShardRDD, FederatedRun, ModelSpec, RoundMetrics, ShardCache, TestRuns, TrainSettings}
import fedspark.engine.state.ClientStateStore
import fedspark.models.{FlatParameters, InputShape}
import fedspark.testing.{LocalSpark, TestData}

/** Federated evaluation on the clients' local test sets, and the personalization strategies. */
class PersonalizationSuite extends AnyFunSuite with LocalSpark {

  private val side = 8
  private val classes = 4
  private val d = side * side
  private val clients = 6
  private lazy val trainRoot = TestData.writeClients(spark, fresh("train"), Seq(40, 25, 60, 33, 18, 50), side, classes, 3L)
  // client 4 keeps no local test examples
  private lazy val testRoot = TestData.writeClients(spark, fresh("test"), Seq(12, 7, 15, 9, 0, 11), side, classes, 4L)
  private lazy val serverTest = TestData.table(spark, 1234, side, classes, 99L).collectAsList()

  private def settings(algorithm: String, c: Double = 0.5, rounds: Int = 3, step: TrainSettings.LocalStep = TrainSettings.LocalStep.AUTO) =
    new TrainSettings("mcmahan-2nn", rounds, c, 2, 10, 0.1, 7L, algorithm, 1, step)

  private def model(s: TrainSettings) = new ModelSpec(s.model, InputShape.ofFlatSize(d), classes, s.learningRate)

  /** A run of `s` with client evaluation after every round: final parameters, metrics rows, every round's client scores. */
  private def train(s: TrainSettings, options: String = "", sample: Int = 0): (Array[Float], Seq[RoundMetrics], Seq[Seq[ClientScore]]) = {
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    val spec = model(s)
    val shards = new ClientShardRDD(jsc.sc, new Path(trainRoot), clients, d, classes).toJavaRDD()
    val states = fresh("client-state")
    val evaluation = new ClientEvaluation(testRoot, spec, s.localStep, jsc)
    val scores = ArrayBuffer[Seq[ClientScore]]()
    try {
      val run = new FederatedRun(jsc, shards, spec, s, TestRuns.strategy(s, spec, clients, options), new Evaluator(spec, s.localStep, serverTest))
        .keepClientStateIn(states, java.util.Map.of())
        .evaluateClients(evaluation, 1, sample, round => scores += round.asScala.toSeq)
      val metrics = ArrayBuffer[RoundMetrics]()
      val result = run.train(run.initialParameters(), 1, (m, _) => metrics += m)
      (result, metrics.toSeq, scores.toSeq)
    } finally {
      ShardCache.shared().evict(trainRoot)
      evaluation.evictCache()
      ClientStateStore.shared().evict(states)
    }
  }

  test("federated evaluation equals evaluating each client's local test data on its own (DL4J's output, outside Spark)") {
    val s = settings("fedavg")
    val (parameters, metrics, scores) = train(s)
    val last = scores.last
    assert(last.map(_.client) == Seq(0, 1, 2, 3, 5), "client 4 has no local test data and no row")
    val net = model(s).newNetwork(0L)
    FlatParameters.set(net, parameters)
    for (score <- last) {
      val test = ClientLayout.read(new Path(testRoot), score.client, d, classes, spark.sparkContext.hadoopConfiguration)
      val train = ClientLayout.read(new Path(trainRoot), score.client, d, classes, spark.sparkContext.hadoopConfiguration)
      val output = net.output(Nd4j.create(test.features, Array(test.size.toLong, d.toLong), DataType.FLOAT)).toFloatMatrix
      val predicted = output.map(row => row.indices.maxBy(row(_)))
      val accuracy = predicted.zip(test.labels).count { case (p, y) => p == y }.toDouble / test.size
      val loss = output.zip(test.labels).map { case (row, y) => -math.log(math.max(row(y), 1e-12)) }.sum / test.size
      assert(score.testExamples == test.size && score.trainExamples == train.size)
      assert(score.accuracy == accuracy, s"client ${score.client}")
      assert(math.abs(score.loss - loss) < 1e-5, s"client ${score.client}: ${score.loss} vs $loss")
      assert(score.personalAccuracy == score.accuracy && score.personalLoss == score.loss, "FedAvg does not personalize")
    }
    val accuracies = last.map(_.accuracy).sorted
    val row = metrics.last.extra.asScala
    assert(row("client_accuracy_mean") == accuracies.sum / accuracies.size)
    assert(row("client_accuracy_worst10") == accuracies.head && row("client_accuracy_best10") == accuracies.last) // 10% of 5: one client
    assert(metrics.size == scores.size, "a client evaluation after every round")
  }

  test("per-client evaluation of a sample: the same drawn clients every round, scored as when every client is") {
    val s = settings("fedavg")
    val (_, _, everyClient) = train(s)
    val (_, metrics, sampled) = train(s, sample = 3)
    val drawn = fedspark.engine.ClientSampler.draw(clients, 3, fedspark.engine.Seeds.mix(s.seed, fedspark.engine.Seeds.CLIENT_EVALUATION)).toSeq
    val scored = drawn.filter(_ != 4) // client 4 has no local test data
    assert(sampled.size == everyClient.size && sampled.forall(_.map(_.client) == scored), s"$drawn: ${sampled.map(_.map(_.client))}")
    for ((some, all) <- sampled.zip(everyClient)) {
      assert(some == all.filter(score => drawn.contains(score.client)))
    }
    val accuracies = sampled.last.map(_.accuracy)
    assert(metrics.last.extra.asScala("client_accuracy_mean") == accuracies.sum / accuracies.size, "the fairness columns over the sample")
  }

  test("the server's test set scored in Spark tasks, or in local mode on driver threads without a Spark job, gives the driver's figures, bit for bit") {
    val s = settings("fedavg")
    val spec = model(s)
    val parameters = FlatParameters.of(spec.newNetwork(5L))
    val onDriver = new Evaluator(spec, s.localStep, serverTest).evaluate(parameters)
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    def jobs(group: String) = spark.sparkContext.statusTracker.getJobIdsForGroup(group).length
    val onExecutors = new Evaluator(spec, s.localStep, serverTest).onExecutors(jsc)
    val local = new Evaluator(spec, s.localStep, serverTest).onSpark(jsc) // local[2]: the driver's threads
    try {
      spark.sparkContext.setJobGroup("evaluations", "the test set scored")
      assert(onExecutors.evaluate(parameters) == onDriver) // 1234 examples: 3 chunks in 2 slices
      assert(local.evaluate(parameters) == onDriver)
      assert(onExecutors.evaluate(parameters) == onDriver)
      // the status tracker hears of jobs in order but later: once a job after them is known, so are they
      spark.sparkContext.setJobGroup("after", "a job after the evaluations")
      spark.sparkContext.parallelize(Seq(1)).count()
      eventually(timeout(Span(10, Seconds))) { assert(jobs("after") == 1) }
      assert(jobs("evaluations") == 2, "a job an executors' evaluation, none the local one")
      val other = FlatParameters.of(spec.newNetwork(6L)) // the threads score the parameters given, not the first ones
      assert(local.evaluate(other) == new Evaluator(spec, s.localStep, serverTest).evaluate(other) && local.evaluate(other) != onDriver)
    } finally {
      spark.sparkContext.clearJobGroup()
      onExecutors.release()
      local.release()
    }
  }

  test("FedAvg with 0 fine-tuning epochs scores the global model; with 1 epoch the personalized scores differ") {
    val (fedavg, _, _) = train(settings("fedavg"))
    val (untuned, _, untunedScores) = train(settings("fedavg-ft"), "epochs = 0")
    assert(untuned.sameElements(fedavg), "fine-tuning does not change training")
    untunedScores.flatten.foreach(score => assert(score.personalAccuracy == score.accuracy && score.personalLoss == score.loss))
    val (_, _, tunedScores) = train(settings("fedavg-ft"), "epochs = 1")
    assert(tunedScores.last.forall(score => score.personalLoss != score.loss))
  }

  test("fine-tuning trains on the client's training rows only, never its test rows: each personal loss against a fine-tune by hand") {
    val s = new TrainSettings("logreg", 2, 0.5, 2, 10, 0.1, 7L, "fedavg-ft", 1, TrainSettings.LocalStep.AUTO)
    val (parameters, _, scores) = train(s, "epochs = 2")
    val hadoop = spark.sparkContext.hadoopConfiguration
    val global = parameters.map(_.toDouble)
    val personalSeed = fedspark.engine.Seeds.mix(7L, fedspark.engine.Seeds.PERSONAL)
    def loss(w: Array[Double], data: fedspark.data.ClientShard): Double = (0 until data.size).map { e =>
      val z = Array.tabulate(classes)(j => (0 until d).map(i => data.features()(e * d + i) * w(i + d * j)).sum + w(d * classes + j))
      val m = z.max
      -(z(data.labels()(e)) - m - math.log(z.map(v => math.exp(v - m)).sum))
    }.sum / data.size
    assert(scores.last.size == 5)
    for (score <- scores.last) {
      val trainRows = ClientLayout.read(new Path(trainRoot), score.client, d, classes, hadoop)
      val testRows = ClientLayout.read(new Path(testRoot), score.client, d, classes, hadoop)
      val rule = fedspark.engine.HandSgd.Rule(0.1)
      val (tuned, _) = fedspark.engine.HandSgd.train(trainRows, global, classes, 2, 10, personalSeed, 2, rule)
      val (onTest, _) = fedspark.engine.HandSgd.train(testRows, global, classes, 2, 10, personalSeed, 2, rule)
      assert(math.abs(score.personalLoss - loss(tuned, testRows)) < 1e-4, s"client ${score.client}: ${score.personalLoss} vs ${loss(tuned, testRows)}")
      assert(math.abs(score.personalLoss - loss(onTest, testRows)) > 1e-3, s"client ${score.client}: tuning on test rows would give the same loss")
    }
  }

  test("FedPer with no personal layer is FedAvg, bit for bit; with one, the global head never moves and clients keep their own") {
    val (fedavg, fedavgMetrics, _) = train(settings("fedavg"))
    val (empty, emptyMetrics, emptyScores) = train(settings("fedper"), "personal-layers = 0")
    assert(empty.sameElements(fedavg))
    assert(emptyMetrics.map(_.testLoss) == fedavgMetrics.map(_.testLoss))
    emptyScores.flatten.foreach(score => assert(score.personalLoss == score.loss))

    val s = settings("fedper")
    val (withHead, _, scores) = train(s, "personal-layers = 1")
    val initial = FlatParameters.of(model(s).newNetwork(s.seed))
    val headSize = 200 * classes + classes // the 2NN's output layer
    assert(withHead.takeRight(headSize).sameElements(initial.takeRight(headSize)), "the server keeps its initial head")
    assert(!withHead.dropRight(headSize).sameElements(initial.dropRight(headSize)), "the body is trained")
    assert(scores.last.exists(score => score.personalLoss != score.loss), "clients that trained evaluate their own head")
  }

  test("Ditto trains the global model as FedAvg does; only clients that trained have a personal model") {
    val (fedavg, _, _) = train(settings("fedavg", c = 0.34, rounds = 1))
    val (ditto, _, scores) = train(settings("ditto", c = 0.34, rounds = 1), "lambda = 0.1, epochs = 0")
    assert(ditto.sameElements(fedavg))
    val sampled = fedspark.engine.ClientSampler.sample(clients, 2, 7L, 1).toSet
    for (score <- scores.head) {
      if (sampled(score.client)) assert(score.personalLoss != score.loss, s"client ${score.client} trained a personal model")
      else assert(score.personalLoss == score.loss && score.personalAccuracy == score.accuracy, s"client ${score.client} did not train")
    }
  }
}
