package fedspark.engine

import fedspark.engine.evaluation.Evaluator
import scala.collection.mutable.ArrayBuffer
import scala.collection.JavaConverters._

import org.apache.hadoop.fs.Path
import org.apache.spark.api.java.JavaSparkContext
import org.apache.spark.scheduler.{SparkListener, SparkListenerStageCompleted}
import org.nd4j.linalg.api.buffer.DataType
import org.nd4j.linalg.dataset.DataSet
import org.nd4j.linalg.factory.Nd4j
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.{ClientLayout, ClientShard}
import fedspark.engine.local.LocalBatches
import fedspark.models.{FlatParameters, InputShape}
import fedspark.testing.{LocalSpark, TestData}

class FederatedRunSuite extends AnyFunSuite with LocalSpark {

  override protected def master: String = "local[2,2]" // a task may fail once (the fault drill) and is retried

  private val side = 8
  private val classes = 4
  private val d = side * side

  /** Writes clients of the given sizes in the layout training reads; returns its root. */
  private def layout(sizes: Seq[Int], seed: Long): String = TestData.writeClients(spark, fresh("clients"), sizes, side, classes, seed)

  private lazy val testRows = TestData.table(spark, 200, side, classes, 99L).collectAsList()

  private def settings(rounds: Int, c: Double, e: Int, b: Int, lr: Double, seed: Long,
                       algorithm: String = "fedavg", depth: Int = 2,
                       step: TrainSettings.LocalStep = TrainSettings.LocalStep.AUTO) =
    new TrainSettings("mcmahan-2nn", rounds, c, e, b, lr, seed, algorithm, depth, step)

  /** Trains on the layout at `root` with K clients; returns the final parameters and the metrics. */
  private def train(root: String, clients: Int, s: TrainSettings, options: String = "", failRound: Int = 0): (Array[Float], Seq[RoundMetrics]) = {
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    val model = new ModelSpec(s.model, InputShape.ofFlatSize(d), classes, s.learningRate)
    val shards = new ClientShardRDD(jsc.sc, new Path(root), clients, d, classes).toJavaRDD()
    val states = fresh("client-state")
    try {
      val run = new FederatedRun(jsc, shards, model, s, TestRuns.strategy(s, model, clients, options), new Evaluator(model, s.localStep, testRows))
        .keepClientStateIn(states, java.util.Map.of()).failFirstAttemptsInRound(failRound)
      val metrics = ArrayBuffer[RoundMetrics]()
      val result = run.train(run.initialParameters(), 1, (m, _) => metrics += m)
      (result, metrics.toSeq)
    } finally {
      ShardCache.shared().evict(root)
      state.ClientStateStore.shared().evict(states)
    }
  }

  private def shard(root: String, client: Int): ClientShard =
    ClientLayout.read(new Path(root), client, d, classes, spark.sparkContext.hadoopConfiguration)

  /** A DL4J data set of the given examples of a shard, built here independently of the engine. */
  private def dataSet(shards: Seq[ClientShard], picks: Seq[(Int, Int)]): DataSet = {
    val x = new Array[Float](picks.size * d)
    val y = new Array[Float](picks.size * classes)
    for (((s, i), row) <- picks.zipWithIndex) {
      System.arraycopy(shards(s).features, i * d, x, row * d, d)
      y(row * classes + shards(s).labels()(i)) = 1f
    }
    new DataSet(Nd4j.create(x, Array(picks.size.toLong, d.toLong), DataType.FLOAT),
      Nd4j.create(y, Array(picks.size.toLong, classes.toLong), DataType.FLOAT))
  }

  for (step <- TrainSettings.LocalStep.values()) test(s"FedAvg with one client, C=1, E=1 equals plain minibatch SGD over the same batches ($step step)") {
    val root = layout(Seq(95), 11L) // 95: the last batch of each epoch is partial
    val s = settings(rounds = 3, c = 1.0, e = 1, b = 10, lr = 0.1, seed = 5L, step = step)
    val (federated, _) = train(root, 1, s)

    val net = new ModelSpec(s.model, InputShape.ofFlatSize(d), classes, s.learningRate).newNetwork(s.seed)
    val local = shard(root, 0)
    for (round <- 1 to 3) {
      val order = LocalBatches.order(local.size, s.seed, round, 0, 0)
      order.grouped(10).foreach(batch => net.fit(dataSet(Seq(local), batch.map(i => (0, i)).toSeq)))
    }
    val difference = FlatParameters.maxAbsDifference(federated, FlatParameters.of(net))
    assert(difference <= 1e-6, s"max abs parameter difference $difference")
  }

  test("FedSGD with C=1 equals full-batch gradient descent, whether clients return models (fedavg, E=1, B=inf) or gradients (fedsgd)") {
    val sizes = Seq(20, 35, 50)
    val root = layout(sizes, 12L)
    val lr = 0.2
    val net = new ModelSpec("mcmahan-2nn", InputShape.ofFlatSize(d), classes, lr).newNetwork(3L)
    val shards = sizes.indices.map(shard(root, _))
    val pooled = dataSet(shards, shards.indices.flatMap(s => (0 until shards(s).size).map(i => (s, i))))
    for (_ <- 1 to 4) net.fit(pooled)
    for (returns <- Seq("fedavg", "fedsgd")) {
      val (federated, metrics) = train(root, 3, settings(4, 1.0, 1, TrainSettings.WHOLE_SHARD, lr, 3L, returns))
      val difference = FlatParameters.maxAbsDifference(federated, FlatParameters.of(net))
      assert(difference <= 1e-6, s"$returns: max abs parameter difference $difference")
      assert(metrics.forall(m => m.clients == 3 && m.samples == 105))
    }
  }

  private val algorithms = Seq("fedprox" -> "mu = 0.1", "scaffold" -> "server-lr = 1.0", "fednova" -> "",
    "fedadam" -> "server-lr = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 0.001")

  for ((algorithm, options) <- algorithms) test(s"$algorithm: a round whose tasks fail once and are retried equals a round without failures, bit for bit") {
    val root = layout(Seq(30, 12, 41, 25, 8, 33), 17L)
    val s = settings(4, 0.5, 2, 7, 0.1, 21L, algorithm)
    val readsStart = state.ClientStateStore.shared().storageReads()
    val (clean, cleanMetrics) = train(root, 6, s, options)
    val readsBefore = state.ClientStateStore.shared().storageReads()
    val (retried, retriedMetrics) = train(root, 6, s, options, failRound = 3)
    assert(retried.sameElements(clean))
    def withoutTime(m: RoundMetrics) = (m.round, m.clients, m.samples, m.trainLoss, m.testLoss, m.testAccuracy, m.extra)
    assert(retriedMetrics.map(withoutTime) == cleanMetrics.map(withoutTime))
    if (algorithm == "scaffold") {
      // the retried attempts found their clients' round-3 state in memory and read the version before it from storage
      assert(readsBefore == readsStart, "without failures every version is read from memory (one JVM in local mode)")
      assert(state.ClientStateStore.shared().storageReads() > readsBefore)
      assert(cleanMetrics.last.extra.get("control_variate_norm") > 0)
    }
  }

  test("a round schedules tasks for the sampled clients only, over an RDD of theirs alone (none of K partitions)") {
    val clients = 400
    val root = layout(Seq.fill(clients)(2), 14L)
    val taskCounts = ArrayBuffer[Int]()
    val largestRdd = ArrayBuffer[Int]() // the most partitions of an RDD in each client stage
    val rounds = new java.util.concurrent.CountDownLatch(3)
    val listener = new SparkListener {
      override def onStageCompleted(event: SparkListenerStageCompleted): Unit = {
        val info = event.stageInfo
        if (info.rddInfos.exists(_.name.startsWith("client shards"))) {
          taskCounts.synchronized {
            taskCounts += info.numTasks
            largestRdd += info.rddInfos.map(_.numPartitions).max
          }
          rounds.countDown()
        }
      }
    }
    spark.sparkContext.addSparkListener(listener)
    try train(root, clients, settings(3, 0.005, 1, 2, 0.1, 1L)) // m = max(1, round(0.005 * 400)) = 2
    finally spark.sparkContext.removeSparkListener(listener)
    assert(rounds.await(60, java.util.concurrent.TimeUnit.SECONDS), "the listener bus delivers asynchronously: three stages")
    assert(taskCounts.synchronized(taskCounts.toList) == List(2, 2, 2))
    assert(taskCounts.synchronized(largestRdd.toList) == List(2, 2, 2), "Spark's scheduler would visit the 400 clients' partitions")
  }

  test("FedAvg learns the generated task and reports one metrics row per round") {
    val root = layout(Seq.fill(10)(60), 15L)
    val (_, metrics) = train(root, 10, settings(5, 0.3, 2, 10, 0.1, 2L))
    assert(metrics.map(_.round) == (1 to 5))
    assert(metrics.forall(m => m.clients == 3 && m.samples == 180))
    assert(metrics.last.testAccuracy > 0.8, metrics.mkString("\n"))
    assert(metrics.last.trainLoss < metrics.head.trainLoss)
  }

  test("a round whose sampled clients are all empty fails with a clear error") {
    val root = layout(Seq(5, 0, 0), 16L) // clients 1 and 2: no examples
    val error = intercept[IllegalStateException](train(root, 3, settings(2, 0.0, 1, 5, 0.1, 1L)))
    assert(error.getMessage.contains("empty") || error.getMessage.contains("no client"))
  }

  test("the evaluator refuses a test set whose labels or widths do not fit the model") {
    val model = new ModelSpec("logreg", InputShape.ofFlatSize(d), 2, 0.1)
    val error = intercept[fedspark.data.BadInputException](new Evaluator(model, TrainSettings.LocalStep.AUTO, testRows))
    assert(error.getMessage.contains("out of range"))
    assert(testRows.asScala.nonEmpty)
  }
}
