package fedspark.engine

import fedspark.engine.evaluation.Evaluator
import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.fs.Path
import org.apache.spark.Partitioner
import org.apache.spark.api.java.JavaSparkContext
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.strategy.ClientResult
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.{ClientLayout, ClientShard}
import fedspark.models.InputShape
import fedspark.testing.{LocalSpark, TestData}

/** Task retries, the privacy audit and client placement, in local mode with two attempts per task. */
class PrivacyAuditSuite extends AnyFunSuite with LocalSpark {

  override protected def master: String = "local[2,2]"

  private val side = 6
  private val classes = 3
  private val d = side * side
  private val clients = 6

  private lazy val root: String = TestData.writeClients(spark, fresh("clients"), Seq(14, 9, 20, 11, 7, 16), side, classes, 5L)

  private lazy val testRows = TestData.table(spark, 60, side, classes, 6L).collectAsList()
  private val settings = new TrainSettings("mcmahan-2nn", 3, 0.5, 2, 5, 0.1, 8L,
    "fedavg", 2, TrainSettings.LocalStep.AUTO)
  private val model = new ModelSpec(settings.model, InputShape.ofFlatSize(d), classes, settings.learningRate)

  /** Trains `settings` on `shards` with an audit listening; returns the parameters, metrics and the audit. */
  private def train(shards: org.apache.spark.api.java.JavaRDD[ClientShard], failRound: Int = 0,
                    policy: PrivacyAudit.OnRawDataMovement = PrivacyAudit.OnRawDataMovement.FAIL,
                    log: String => Unit = _ => ()) = {
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    val audit = new PrivacyAudit()
    val metrics = ArrayBuffer[RoundMetrics]()
    spark.sparkContext.addSparkListener(audit)
    try {
      val run = new FederatedRun(jsc, shards, model, settings, TestRuns.strategy(settings, model, clients),
        new Evaluator(model, settings.localStep, testRows))
        .failFirstAttemptsInRound(failRound)
      val result = run.train(run.initialParameters(), 1, (m, _) => {
        metrics += m
        audit.awaitRound(m.round, line => log(line))
        audit.enforce(m.round, policy, line => log(line))
      })
      (result, metrics.toSeq, audit)
    } finally {
      spark.sparkContext.removeSparkListener(audit)
      ShardCache.shared().evict(root)
    }
  }

  private def clientShards() = new ClientShardRDD(spark.sparkContext, new Path(root), clients, d, classes).toJavaRDD()

  test("a task failing its first attempt is retried: the same parameters, and each client counted once") {
    val (clean, cleanMetrics, _) = train(clientShards())
    val (retried, retriedMetrics, audit) = train(clientShards(), failRound = 2)
    assert(clean.sameElements(retried))
    assert(cleanMetrics.map(m => (m.clients, m.samples, m.trainLoss)) == retriedMetrics.map(m => (m.clients, m.samples, m.trainLoss)))
    val round2 = audit.rows().asScala.filter(r => r.round == 2 && r.isClientTask)
    val sampled = ClientSampler.sample(clients, 3, settings.seed, 2).toSeq
    assert(round2.filter(_.status == "failed").flatMap(_.clientList).sorted == sampled, "every first attempt failed")
    assert(round2.filter(_.status == "success").flatMap(r => r.clientList.map(c => (c, r.attempt))).sorted == sampled.map(c => (c, 1)),
      "each client's second attempt, once")
    // 3 sampled clients on one executor with 2 task slots: 2 tasks, both failing once; a row a task attempt
    assert(round2.count(_.status == "failed") == 2 && round2.filter(_.status == "failed").map(_.taskAttempt).distinct.size == 2)
    assert(audit.summary().contains("unsuccessful-attempts = 2"), audit.summary())
  }

  test("the audit names every client task's executor and locality, and finds no raw data moved") {
    val (_, metrics, audit) = train(clientShards())
    val tasks = audit.rows().asScala.filter(_.isClientTask)
    for (round <- 1 to 3) {
      assert(tasks.filter(_.round == round).flatMap(_.clientList).sorted == ClientSampler.sample(clients, 3, settings.seed, round).toSeq)
    }
    assert(tasks.forall(t => t.status == "success" && t.executor == "driver" && t.shuffleReadBytes == 0))
    // rounds 2 and 3: clients seen before prefer the executor that holds their shard
    val seen = tasks.filter(_.round == 1).flatMap(_.clientList).toSet
    assert(tasks.filter(t => t.round > 1 && t.clientList.forall(seen)).forall(_.locality == "PROCESS_LOCAL"))
    val summary = audit.summary()
    assert(summary.contains("raw-data-bytes-between-executors = 0"), summary)
    // each round's 3 clients in 2 tasks (the executor's 2 slots), a row each
    assert(tasks.groupBy(_.round).values.forall(t => t.size == 2 && t.map(_.taskAttempt).distinct.size == 2))
    assert(summary.contains("client-tasks = 6") && summary.contains("client-updates = 9") && summary.contains("affinity-misses = 0"), summary)
    // what did move is model updates: 3 clients x 3 rounds, each at least its 4-byte floats
    val updateBytes = summary.linesIterator.filter(_.startsWith("update-bytes-")).map(_.split(" = ")(1).toLong).sum
    assert(updateBytes >= 9L * 4 * FlatParametersCount(model), summary)
    assert(PrivacyAudit.parseCsv(audit.csv()) == audit.rows())
    // every client task names the kernels its executor ran (OpenBLAS's, oneDNN's): here the driver's own
    val kernel = model.kernels(settings.localStep)
    assert(!kernel.startsWith("unknown") && kernel.contains(" + oneDNN ") && tasks.forall(_.blasKernel == kernel),
      tasks.map(_.blasKernel).distinct)
    assert(summary.contains(s"""blas-kernels { "1.driver" = "$kernel" }""") && summary.contains("blas-kernels-match = true"), summary)
    assert(audit.kernelMismatch() == null)
  }

  test("a client task's input is its clients' rows: a preload task reads its file, a client read alone its own pages, a cached one nothing") {
    // Clients of Fashion-MNIST's size (28x28, 150-400 examples): on tiny files the file system's read-ahead
    // buffers, refilled after each seek, would count more than the file.
    val sizes = Seq(150, 400, 260, 310, 180, 220, 390, 160, 300, 240, 350, 200)
    val big = TestData.writeClients(spark, fresh("big-clients"), sizes, 28, classes, 9L)
    val hadoop = spark.sparkContext.hadoopConfiguration
    val index = fedspark.data.ClientIndex.read(new Path(big), hadoop)
    def fileBytes(client: Int): Long = { val f = index.fileOf(new Path(big), client); f.getFileSystem(hadoop).getFileStatus(f).getLen }
    def fileRows(client: Int): Long = index.clientsByFile()(index.file()(client)).map(index.size()(_)).sum
    val audit = new PrivacyAudit()
    spark.sparkContext.addSparkListener(audit)
    val jsc = JavaSparkContext.fromSparkContext(spark.sparkContext)
    try {
      val shards = new ClientShardRDD(spark.sparkContext, new Path(big), sizes.size, 28 * 28, classes)
      assert(shards.preload() == sizes.size)
      audit.awaitRound(0, _ => ())
      val again = shards.groups(sizes.indices.toArray, 2)
      PrivacyAudit.tagged(jsc, 1, again, () => again.over(shards).toJavaRDD().map[Integer](_.size()).collect())
      audit.awaitRound(1, _ => ())
      // evicted (or an executor lost): a client is read alone, through the page index
      ShardCache.shared().evict(big)
      val alone = new ClientGroups(Array(Array(1), Array(5), Array(10)), Array(null, null, null))
      PrivacyAudit.tagged(jsc, 2, alone, () => alone.over(shards).toJavaRDD().map[Integer](_.size()).collect())
      audit.awaitRound(2, _ => ())
      val tasks = audit.rows().asScala.filter(_.isClientTask).groupBy(r => (r.round, r.taskAttempt))
      assert(tasks.keys.map(_._1).toSet == Set(0, 1, 2))
      val preloadRatios = ArrayBuffer[Double]()
      val aloneRatios = ArrayBuffer[Double]()
      for (((round, _), rows) <- tasks) {
        assert(rows.size == 1, s"a row a task attempt: $rows")
        val clientsOfTask = rows.head.clientList.toSeq
        val input = rows.head.inputBytes
        round match {
          case 0 =>
            // a file's clients, all of them: the task's input is that file
            assert(clientsOfTask == index.clientsByFile()(index.file()(clientsOfTask.head)).toSeq, s"task $clientsOfTask: a file's clients")
            val expected = fileBytes(clientsOfTask.head)
            preloadRatios += input.toDouble / expected
            assert(input >= expected && input <= 1.1 * expected, s"preload of clients $clientsOfTask: read $input bytes, their file holds $expected")
          case 1 => assert(input == 0, s"round 1, clients $clientsOfTask: cached, yet $input bytes read")
          case 2 =>
            val k = clientsOfTask.head
            val share = fileBytes(k).toDouble * index.size()(k) / fileRows(k) // its rows' part of the file
            aloneRatios += input / share
            assert(input > 0.9 * share && input <= 1.1 * share + 2 * 64 * 1024,
              s"client $k alone: read $input bytes, its rows are about ${share.toLong} of its file's ${fileBytes(k)}")
        }
      }
      info(f"preload tasks read ${preloadRatios.min}%.3f to ${preloadRatios.max}%.3f times their file's bytes; a client alone " +
        f"${aloneRatios.min}%.2f to ${aloneRatios.max}%.2f times its rows' share of its file")
    } finally {
      spark.sparkContext.removeSparkListener(audit)
      ShardCache.shared().evict(big)
    }
  }

  test("a client task reports oneDNN's instruction set beside OpenBLAS's kernels where the lean step runs") {
    val blas = fedspark.engine.local.BlasKernel.name()
    for (spec <- Seq(new ModelSpec("lenet5", InputShape.MNIST, 10, 0.1), model)) { // convolutions; dense layers only
      val reported = spec.kernels(TrainSettings.LocalStep.AUTO)
      assert(reported.startsWith(blas + " + oneDNN ") && reported.length > (blas + " + oneDNN ").length, reported)
      assert(reported.matches(""".* \+ oneDNN (avx|sse|isa).*"""), reported)
      // DL4J's own step does not run oneDNN
      assert(spec.kernels(TrainSettings.LocalStep.DL4J) == blas)
    }
  }

  test("a row a task attempt with its clients as ranges; an audit written a row a client reads back with the same totals") {
    // client tasks in stage 3, the merge of their partial sums in stage 4
    def line(clients: String, encoded: Long, kind: String = "client", task: Int = 0, round: Int = 1, executor: String = "1") =
      s"1,$round,${if (kind == "merge") 4 else 3 + 2 * (round - 1)},$task,$kind,$clients,0,$executor,host,PROCESS_LOCAL,success,100,0,0,0,${if (kind == "merge") 50 else 10},Haswell,$encoded"
    val perTask = PrivacyAudit.parseCsv(PrivacyAudit.CSV_HEADER + "\n" +
      Seq(line("0-2 7", 4000), line("4", 1000, task = 1), line("", -1, "merge", task = 0),
        line("2 4", 2000, round = 2, executor = "2")).mkString("\n"))
    assert(perTask.asScala.map(_.clientList.toSeq) == Seq(Seq(0, 1, 2, 7), Seq(4), Seq(), Seq(2, 4)))
    // before: a row for each client of a task (its bytes repeated on each), -1 for a merge task's client
    val perClient = PrivacyAudit.parseCsv(PrivacyAudit.CSV_HEADER.replace(",clients,", ",client,") + "\n" +
      Seq(line("0", 1000), line("1", 1000), line("2", 1000), line("7", 1000), line("4", 1000, task = 1), line("-1", -1, "merge"),
        line("2", 1000, round = 2, executor = "2"), line("4", 1000, round = 2, executor = "2")).mkString("\n"))
    assert(perClient.asScala.map(_.clients) == Seq("0", "1", "2", "7", "4", "", "2", "4"))
    def totals(rows: java.util.List[PrivacyAudit.TaskRow]) = new PrivacyAudit(rows).summary().linesIterator.filterNot(_.startsWith("#")).toList
    val summary = totals(perTask)
    assert(summary == totals(perClient), s"${summary.mkString("\n")}\nagainst\n${totals(perClient).mkString("\n")}")
    // round 2: clients 2 and 4 of one task on executor 2, both served by executor 1 in round 1
    assert(Seq("client-tasks = 3", "client-updates = 7", "update-bytes-encoded = 7000", "update-bytes-to-driver = 80",
      "clients-per-executor { \"1\" = 5, \"2\" = 2 }", "affinity-misses = 2", "clients-that-moved = 2").forall(summary.contains),
      summary.mkString("\n"))
    assert(ClientGroups.describe(Array(0, 1, 2, 7, 9, 10)) == "0-2 7 9-10" && ClientGroups.parseGroup("0-2 7 9-10").toSeq == Seq(0, 1, 2, 7, 9, 10))
  }

  test("executors on different BLAS kernels: the audit says bitwise equality cannot hold, once") {
    def row(session: Int, executor: String, kernel: String) = new PrivacyAudit.TaskRow(session, 1, 1, 0, "client", "0", 0, executor, "host",
      "PROCESS_LOCAL", "success", 0L, 0L, 0L, 0L, 100L, kernel, 4000L)
    val same = new PrivacyAudit(java.util.List.of(row(1, "0", "Haswell"), row(1, "1", "Haswell"), row(2, "0", "Haswell")))
    assert(same.kernelMismatch() == null && same.summary().contains("blas-kernels-match = true"))
    // a resumed session on another machine counts as much as another executor
    val mixed = new PrivacyAudit(java.util.List.of(row(1, "0", "Haswell"), row(1, "1", "Haswell"), row(2, "0", "SkylakeX")))
    val why = mixed.kernelMismatch()
    assert(why != null && why.contains("Haswell on 1.0 1.1") && why.contains("SkylakeX on 2.0"), why)
    assert(mixed.summary().contains("blas-kernels-match = false"), mixed.summary())
    val logged = scala.collection.mutable.ArrayBuffer[String]()
    mixed.reportKernelMismatch(line => logged += line)
    mixed.reportKernelMismatch(line => logged += line)
    assert(logged.size == 1 && logged.head.startsWith("WARNING audit: executors used different OpenBLAS kernels"), logged)
    // rows written before the kernel column still parse
    val old = "1,1,1,0,client,0,0,0,host,PROCESS_LOCAL,success,0,0,0,0,100"
    assert(PrivacyAudit.parseCsv(PrivacyAudit.CSV_HEADER + "\n" + old + "\n").get(0).blasKernel == "")
    assert(PrivacyAudit.parseCsv(PrivacyAudit.CSV_HEADER + "\n" + old + ",Haswell\n").get(0).encodedBytes == -1)
    assert(same.summary().contains("update-bytes-encoded = 12000"))
  }

  test("shards that reach their task through a shuffle are raw data moved: the run fails, or warns when told to") {
    // The same clients, but sent through a shuffle the way a careless pipeline would (partition k = client k).
    val byClient = new ClientIdPartitioner(clients)
    val hadoop = spark.sparkContext.hadoopConfiguration
    val loaded = (0 until clients).map(k => (k, ClientLayout.read(new Path(root), k, d, classes, hadoop)))
    def shuffled() = spark.sparkContext.parallelize(loaded, 2).partitionBy(byClient).values
      .setName(ClientShardRDD.NAME_PREFIX + "a shuffle").toJavaRDD()
    val failure = intercept[PrivacyAudit.RawDataMoved](train(shuffled()))
    assert(failure.getMessage.contains("round 1: raw client data moved between executors"), failure.getMessage)
    assert(failure.getMessage.contains("bytes through a shuffle"), failure.getMessage)
    val warnings = ArrayBuffer[String]()
    val (_, metrics, audit) = train(shuffled(), policy = PrivacyAudit.OnRawDataMovement.WARN, log = warnings += _)
    assert(metrics.size == 3 && warnings.size == 3 && warnings.forall(_.startsWith("WARNING audit: round")))
    assert(!audit.summary().contains("raw-data-bytes-between-executors = 0"))
  }

  test("a client counted twice in one round is refused, not averaged") {
    val sum = WeightedSum.empty().add(ClientResult.weightedByExamples(4, 3, Array(1f, 2f), 0, 0))
    val again = WeightedSum.empty().add(ClientResult.weightedByExamples(4, 3, Array(1f, 2f), 0, 0))
    val error = intercept[IllegalStateException](sum.merge(again))
    assert(error.getMessage.startsWith("client 4 counted twice in one round"))
    val other = WeightedSum.empty().add(ClientResult.weightedByExamples(5, 1, Array(0f, 0f), 0, 0))
    assert(sum.merge(other).served().asScala.map(_.client) == Seq(4, 5))
  }
}

/** Partition k = key k. */
class ClientIdPartitioner(clients: Int) extends Partitioner {
  override def numPartitions: Int = clients
  override def getPartition(key: Any): Int = key.asInstanceOf[Int]
}

object FlatParametersCount {
  def apply(model: ModelSpec): Long = model.newNetwork(0).numParams()
}
