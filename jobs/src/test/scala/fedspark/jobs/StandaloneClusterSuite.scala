package fedspark.jobs

import java.io.File
import java.net.{ServerSocket, URL}
import java.nio.file.{Files, Path, Paths}

import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer
import scala.io.Source

import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/**
 * A real Spark standalone cluster on 127.0.0.1: a master and two workers (named 127.0.0.1 and localhost, two hosts
 * to Spark's scheduler), each its own JVM started from
 * the build's classpath (no Spark download), whose executors are JVMs of their own. Drivers are what a user
 * starts: `bin/fedspark` with its own defaults (its environment reaches the executors only through fedspark:
 * the workers here have neither OMP_NUM_THREADS nor OPENBLAS_CORETYPE), and `spark-submit` of the packaged
 * `fedspark.jar` through Spark's own submit class. It runs after `package` (the `packaged` tag: `mvn verify`).
 * Everything started here is stopped in afterAll, failed test or not.
 */
class StandaloneClusterSuite extends AnyFunSuite with BeforeAndAfterAll {

  import ClusterRuns._

  private lazy val sparkClasspath = sparkJars.mkString(File.pathSeparator)

  private val scratch = Files.createTempDirectory("fedspark-cluster-")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)
  private val classpath = System.getProperty("java.class.path")
  private val processes = ArrayBuffer[Process]()
  private val logs = scratch.resolve("logs")
  private val stopOnExit = new Thread(() => stopAll())

  private def freePort(): Int = {
    val socket = new ServerSocket(0)
    try socket.getLocalPort finally socket.close()
  }

  private val masterPort = freePort()
  private val masterUiPort = freePort()
  private val masterUrl = s"spark://127.0.0.1:$masterPort"

  /** A Spark home shaped like a distribution's: the launcher needs RELEASE and jars/; the classes come from extraClassPath. */
  private val sparkHome: Path = {
    val home = scratch.resolve("spark-home")
    Files.createDirectories(home.resolve("jars"))
    Files.createDirectories(home.resolve("conf"))
    Files.writeString(home.resolve("RELEASE"), s"Spark ${org.apache.spark.SPARK_VERSION} (the build's classpath)\n")
    home
  }

  /** Starts {@code command} with its output in logs/name.log; the BLAS settings of this JVM's environment are not passed on. */
  private def start(name: String, command: Seq[String], env: Map[String, String] = Map()): Process = {
    Files.createDirectories(logs)
    val process = startProcess(command, logs.resolve(name + ".log"), Map("SPARK_HOME" -> sparkHome.toString,
      "SPARK_SCALA_VERSION" -> scala.util.Properties.versionNumberString.split('.').take(2).mkString(".")) ++ env)
    processes.synchronized(processes += process)
    process
  }

  private def startJvm(name: String, mainClass: String, heap: String, classes: String, args: String*): Process =
    start(name, Seq(javaBin, s"-Xmx$heap") ++ jvmOptions ++ Seq("-cp", classes, mainClass) ++ args)

  /** Stops every JVM started here and their children (the executors), politely first. */
  private def stopAll(): Unit = processes.synchronized {
    val all = processes.flatMap(p => p.toHandle.descendants().iterator().asScala.toSeq :+ p.toHandle)
    all.foreach(_.destroy())
    val deadline = System.currentTimeMillis() + 15000
    all.foreach(h => while (h.isAlive && System.currentTimeMillis() < deadline) Thread.sleep(50))
    all.filter(_.isAlive).foreach(_.destroyForcibly())
    processes.clear()
  }

  private def aliveWorkers(): Int =
    try {
      val json = Source.fromURL(new URL(s"http://127.0.0.1:$masterUiPort/json/")).mkString
      """"aliveworkers"\s*:\s*(\d+)""".r.findFirstMatchIn(json).map(_.group(1).toInt).getOrElse(0)
    } catch { case _: java.io.IOException => 0 }

  private def logTails(except: Path = null): String = {
    val files = Files.walk(scratch).iterator().asScala.filter(p => Files.isRegularFile(p) && p != except &&
      (p.toString.endsWith(".log") || p.getFileName.toString == "stderr")).toList
    files.map(f => s"== $f\n" + Files.readAllLines(f).asScala.takeRight(25).mkString("\n")).mkString("\n")
  }

  override def beforeAll(): Unit = {
    Runtime.getRuntime.addShutdownHook(stopOnExit)
    startJvm("master", "org.apache.spark.deploy.master.Master", "512m", classpath,
      "--host", "127.0.0.1", "--port", masterPort.toString, "--webui-port", masterUiPort.toString)
    // Two hosts to Spark's scheduler, both 127.0.0.1: it never runs a speculative copy on the host of the attempt it copies.
    for ((host, w) <- Seq("127.0.0.1", "localhost").zipWithIndex.map { case (h, i) => (h, i + 1) }) {
      startJvm(s"worker-$w", "org.apache.spark.deploy.worker.Worker", "512m", classpath,
        "--host", host, "--port", "0", "--webui-port", "0", "--cores", "1", "--memory", "1536m",
        "--work-dir", scratch.resolve(s"work-$w").toString, masterUrl)
    }
    val deadline = System.currentTimeMillis() + 120000
    while (aliveWorkers() < 2) {
      if (System.currentTimeMillis() > deadline) {
        stopAll()
        fail("the standalone cluster did not come up within 120 s\n" + logTails())
      }
      Thread.sleep(500)
    }
  }

  override def afterAll(): Unit = {
    try stopAll()
    finally {
      Runtime.getRuntime.removeShutdownHook(stopOnExit)
      TestData.deleteRecursively(scratch)
    }
  }

  /** An experiment file; executors load classes from {@code executorClasses} (the fake Spark home has no jars/). */
  private def experiment(name: String, executorClasses: String = classpath): String = {
    val file = scratch.resolve(name + ".conf")
    Files.writeString(file,
      s"""fedspark {
         |  name = $name
         |  model = mcmahan-2nn
         |  data { source { format = idx, path = "$idx" }, prepared = "$scratch/prepared" }
         |  output.runs = "$scratch/runs"
         |  partition { scheme = dirichlet, beta = 0.5, clients = 8, seed = 0, min-client-size = 5 }
         |  train { rounds = 5, C = 0.5, E = 2, B = 10, lr = 0.1, seed = 9, aggregation-depth = 2 }
         |  spark.conf {
         |    "spark.executor.extraClassPath" = "$executorClasses"
         |    "spark.executor.memory" = "1g"
         |    "spark.executor.cores" = "1"
         |    "spark.cores.max" = "2"
         |    "spark.driver.host" = "127.0.0.1"
         |    "spark.driver.bindAddress" = "127.0.0.1"
         |    "spark.ui.enabled" = "false"
         |    # the tests below look at two executors: start training once both have registered
         |    "spark.scheduler.minRegisteredResourcesRatio" = "1.0"
         |    "spark.scheduler.maxRegisteredResourcesWaitingTime" = "120s"
         |  }
         |}""".stripMargin)
    file.toString
  }

  /**
   * Starts `bin/fedspark train` against {@code master}, as a user would, with oneDNN capped at AVX2 in its environment
   * ([[OneDnnIsa]]): fedspark must pass that on to the executors as it passes OpenBLAS's kernels.
   */
  private def startDriver(name: String, master: String, settings: String*): Process =
    start(s"driver-$name", Seq(launcher, "train", experiment(name), "--run-dir", s"$scratch/runs/$name",
      "--set", s"""spark.master="$master"""") ++ settings.flatMap(s => Seq("--set", s)), Map("DNNL_MAX_CPU_ISA" -> OneDnnIsa))

  /** The drivers' cap on oneDNN's instruction set: below what oneDNN picks by itself on CPUs with AVX-512. */
  private val OneDnnIsa = "AVX2"

  private def startOnCluster(name: String, settings: String*): Process = startDriver(name, masterUrl, settings: _*)

  /** Waits for a driver; returns its run folder. */
  private def finish(name: String, driver: Process): String = {
    awaitSuccess(s"driver $name", driver, own => logTails(except = own))
    s"$scratch/runs/$name"
  }

  private def trainOnCluster(name: String, settings: String*): String = finish(name, startOnCluster(name, settings: _*))

  /** The same command in local mode (its own JVM, so with bin/fedspark's BLAS settings too). */
  private def trainLocally(name: String, master: String, settings: String*): String =
    finish(name, startDriver(name, master, settings: _*))

  /** The executor JVMs the workers launched (CoarseGrainedExecutorBackend), alive now. */
  private def executorJvms(): Seq[ProcessHandle] = processes.synchronized(processes.toList).flatMap(_.toHandle.descendants().iterator().asScala)
    .filter(h => h.isAlive && commandLine(h).contains("CoarseGrainedExecutorBackend"))

  /**
   * In every executor log of the workers that shows a task: ND4J's backend loaded at the executor's start
   * (fedspark.engine.ExecutorWarmUp's line) before the first task ran, so no task's native loading can meet ND4J's.
   */
  private def assertBackendLoadedBeforeTasks(): Unit = {
    val logs = Files.walk(scratch).iterator().asScala.filter(p => p.getFileName.toString == "stderr").toList
    val withTasks = logs.map(p => p -> Files.readAllLines(p).asScala.toSeq).filter(_._2.exists(_.contains("Running task")))
    assert(withTasks.nonEmpty, s"no executor log shows a task: $logs")
    for ((log, lines) <- withTasks) {
      val loaded = lines.indexWhere(_.contains("ND4J's native backend loaded at the executor's start"))
      val firstTask = lines.indexWhere(_.contains("Running task"))
      val where = if (loaded < 0) "no line says the backend loaded" else s"the backend loaded at line ${loaded + 1}"
      assert(loaded >= 0 && loaded < firstTask, s"$log: $where, the first task started at line ${firstTask + 1}\n" +
        lines.take(firstTask + 1).takeRight(30).mkString("\n"))
      info(lines(loaded).substring(lines(loaded).indexOf("fedspark:")))
    }
  }

  /** The experiment in local[1]: the reference of the first two tests, run by whichever needs it first. */
  private lazy val localOne: String = trainLocally("local-1", "local[1]")

  test("FedAvg on two executors: the parameters of local[1] and local[2], the driver's BLAS kernels, no raw data moved", Packaged) {
    val cluster = trainOnCluster("cluster")
    val one = localOne
    val two = trainLocally("local-2", "local[2]")
    assert(parameters(cluster).sameElements(parameters(one)), "cluster vs local[1]")
    assert(parameters(one).sameElements(parameters(two)), "local[1] vs local[2]")

    // the workers' environment has no kernel settings: the executors run the driver's kernels because fedspark passed them on
    val localKernel = kernels(one).values.toSet
    assert(localKernel.size == 1 && !localKernel.contains("unknown") && !localKernel.contains(""), localKernel)
    assert(localKernel.head.endsWith("oneDNN avx2"), s"DNNL_MAX_CPU_ISA=$OneDnnIsa in the driver's environment: $localKernel")
    assert(kernels(cluster).values.toSet == localKernel, kernels(cluster))
    val summary = Files.readString(Paths.get(cluster, "audit.conf"))
    assert(summary.contains("blas-kernels-match = true"), summary)

    val tasks = audit(cluster).filter(t => t.isClientTask && t.status == "success")
    assert(tasks.map(_.round).distinct.sorted == (0 to 5), "round 0: every client preloaded where it will train")
    assert(tasks.filter(_.round == 0).flatMap(_.clientList).sorted == (0 until 8))
    val executors = tasks.map(_.executor).distinct
    assert(executors.size == 2 && !executors.contains("driver"), s"clients served by $executors")
    assert(tasks.forall(_.shuffleReadBytes == 0))
    assert(summary.contains("raw-data-bytes-between-executors = 0"), summary)
    // Where a client trains is Spark's delay scheduling, which a loaded machine can defeat; what must hold is that
    // the audit counts every change of executor (and the parameters above, which do not depend on it).
    val servedBy = tasks.sortBy(_.round).flatMap(t => t.clientList.map(_ -> t.executor))
    val moves = servedBy.groupBy(_._1).values.map(_.map(_._2).sliding(2).count(p => p.size == 2 && p(0) != p(1))).sum
    assert(summary.contains(s"affinity-misses = $moves"), summary)
    info(s"$moves affinity misses; clients per executor: ${tasks.groupBy(_.executor).map { case (e, t) => e -> t.flatMap(_.clientList).distinct.size }}")
    assertBackendLoadedBeforeTasks()
  }

  test("spark-submit of fedspark.jar, the executors given Spark's classes only: the same parameters as local mode", Packaged) {
    assert(Files.exists(packagedJar), s"$packagedJar: run the packaged tests with mvn verify")
    val name = "submitted"
    // Only the executors' kernels decide the model; spark-submit passes on no environment, so name them as the README says.
    val kernel = openBlasKernel(localOne)
    val submit = startJvm(s"spark-submit-$name", "org.apache.spark.deploy.SparkSubmit", "1g", sparkClasspath,
      "--master", masterUrl, "--deploy-mode", "client", "--class", "fedspark.jobs.FedSpark",
      "--conf", s"spark.executorEnv.OPENBLAS_CORETYPE=$kernel", "--conf", s"spark.executorEnv.DNNL_MAX_CPU_ISA=$OneDnnIsa",
      "--conf", "spark.executorEnv.OMP_NUM_THREADS=1",
      packagedJar.toString, "train", experiment(name, executorClasses = sparkClasspath), "--run-dir", s"$scratch/runs/$name")
    val runDir = finish(name, submit)
    assert(parameters(runDir).sameElements(parameters(localOne)), "spark-submit vs bin/fedspark local[1]")
    val summary = Files.readString(Paths.get(runDir, "audit.conf"))
    val updates = Files.readString(Paths.get(localOne, "audit.conf")).linesIterator.find(_.startsWith("client-updates")).get
    assert(summary.contains("raw-data-bytes-between-executors = 0") && summary.contains(updates), summary)
    assert(kernels(runDir).values.toSet == kernels(localOne).values.toSet, kernels(runDir))
    // the plugin's class came with fedspark.jar, not with the executors' class path
    assertBackendLoadedBeforeTasks()
  }

  test("on the cluster, a round whose tasks all fail their first attempt ends with the same parameters", Packaged, FirstLineOnly) {
    val clean = s"$scratch/runs/cluster"
    val retried = trainOnCluster("cluster-retried", "train.fail-first-attempts-in-round=3")
    assert(parameters(retried).sameElements(parameters(clean)))
    val round3 = audit(retried).filter(t => t.round == 3 && t.isClientTask)
    assert(round3.filter(_.status == "failed").flatMap(_.clientList).size == 4 && round3.filter(_.status == "success").forall(_.attempt == 1))
    assert(round3.filter(_.status == "success").flatMap(_.clientList).size == 4, "each sampled client counted once")
  }

  test("SCAFFOLD on the cluster equals local mode bit for bit, also when an executor's JVM is killed during the run", Packaged, FirstLineOnly) {
    val scaffold = Seq("train.algorithm=scaffold", "train.rounds=8")
    val local = trainLocally("local-scaffold", "local[2]", scaffold: _*)
    val cluster = trainOnCluster("cluster-scaffold", scaffold: _*)
    assert(parameters(cluster).sameElements(parameters(local)), "cluster vs local[2]")

    val name = "cluster-scaffold-killed"
    val driver = startOnCluster(name, scaffold: _*)
    val metrics = Paths.get(s"$scratch/runs/$name", "metrics.csv")
    val deadline = System.currentTimeMillis() + 240000
    // after round 2 (header + 2 rows), kill one executor with SIGKILL: its cached shards and client state are gone
    while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3) && driver.isAlive && System.currentTimeMillis() < deadline) Thread.sleep(20)
    val victims = executorJvms()
    assert(victims.size == 2, s"executor JVMs: ${victims.map(_.pid)}\n" + logTails())
    val killedId = commandLine(victims.head).split("\u0000").dropWhile(_ != "--executor-id").drop(1).head
    victims.head.destroyForcibly()
    val killed = finish(name, driver)
    assert(parameters(killed).sameElements(parameters(local)), "killed executor vs local[2]")
    // the dead executor's clients trained again elsewhere, reading their state from the run folder
    val served = audit(killed).filter(t => t.isClientTask && t.status == "success")
    val orphans = served.filter(_.executor == killedId).flatMap(_.clientList).toSet
    val lastRound = served.filter(_.round == 8)
    assert(lastRound.nonEmpty && !lastRound.exists(_.executor == killedId), s"round 8 served by ${lastRound.map(_.executor)}")
    assert(served.exists(t => t.round > 3 && t.clientList.exists(orphans) && t.executor != killedId),
      s"no client of executor $killedId trained after it died:\n" + Files.readString(Paths.get(killed, "audit.csv")))
  }

  test("speculative copies of round tasks (spark.speculation = true): the checkpoint and client state of a run without", Packaged, FirstLineOnly) {
    // SCAFFOLD's control variates and top-k's residuals: client state that a second attempt of a task must leave as one
    // would. Every client every round: the executors hold 3 and 5 of the 8, so one task of each round ends well before the other.
    val stateful = Seq("train.algorithm=scaffold", "train.update.transforms=[top-k]", "train.update.top-k.fraction=0.1",
      "train.rounds=8", "train.C=1.0", "train.E=5")
    val plain = trainOnCluster("cluster-plain", stateful: _*)
    val events = scratch.resolve("events")
    Files.createDirectories(events)
    // Copy a task as soon as one task of its stage has finished and it runs on (no minimum run time, no efficiency
    // test, no wait for locality: the copy runs on the other host at once).
    val speculation = Map("spark.speculation" -> "true", "spark.speculation.interval" -> "10ms", "spark.speculation.quantile" -> "0.5",
      "spark.speculation.multiplier" -> "0.01", "spark.speculation.minTaskRuntime" -> "1ms", "spark.speculation.efficiency.enabled" -> "false",
      "spark.locality.wait" -> "0", "spark.eventLog.enabled" -> "true", "spark.eventLog.dir" -> events.toUri.toString,
      // one plain file (Spark 4 compresses and rolls event logs by default)
      "spark.eventLog.compress" -> "false", "spark.eventLog.rolling.enabled" -> "false")
    val speculative = trainOnCluster("cluster-speculative", stateful ++ speculation.map { case (k, v) => s"""spark.conf."$k"="$v"""" }: _*)

    val started = Files.list(events).iterator().asScala.flatMap(f => Files.readAllLines(f).asScala)
      .filter(_.contains("\"Event\":\"SparkListenerTaskStart\"")).toSeq
    val copies = started.count(_.contains("\"Speculative\":true"))
    assert(copies > 0, s"Spark launched no speculative copy in ${started.size} task starts\n" + logTails())
    val secondAttempts = audit(speculative).filter(t => t.isClientTask && t.attempt > 0)
    assert(secondAttempts.nonEmpty, "the audit records the copies' attempts")
    assert(audit(speculative).filter(_.isClientTask).groupBy(t => (t.round, t.stage, t.task)).values
      .forall(attempts => attempts.count(_.status == "success") == 1), "one successful attempt a task")
    info(s"$copies speculative copies of ${started.size} tasks; copies' attempts: ${secondAttempts.groupBy(_.status).map { case (s, t) => s -> t.size }}")

    def bytes(run: String, file: String) = Files.readAllBytes(Paths.get(run, file))
    assert(bytes(speculative, "checkpoint.bin").sameElements(bytes(plain, "checkpoint.bin")), "checkpoint.bin differs")
    assert(parameters(speculative).sameElements(parameters(plain)))
    def clientState(run: String): Map[String, Seq[Byte]] = {
      val root = Paths.get(run, "client-state")
      Files.walk(root).iterator().asScala.filter(p => Files.isRegularFile(p) && p.getFileName.toString.endsWith(".bin"))
        .map(p => root.relativize(p).toString -> Files.readAllBytes(p).toSeq).toMap
    }
    val state = clientState(plain)
    assert(state.nonEmpty && clientState(speculative) == state, "client state files differ")
  }
}
