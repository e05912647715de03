package fedspark.jobs

import java.io.File
import java.lang.management.ManagementFactory
import java.net.{ServerSocket, URL}
import java.nio.file.{Files, Path, Paths}

import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer
import scala.io.Source

import org.deeplearning4j.util.ModelSerializer
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.PrivacyAudit
import fedspark.models.FlatParameters
import fedspark.testing.TestData

/**
 * A real Spark standalone cluster on 127.0.0.1: a master and two workers, each its own JVM started from
 * the build's classpath (no Spark download), whose executors are JVMs of their own. The driver runs the
 * `fedspark train` command in another JVM, as spark-submit in client mode would. Everything started here
 * is stopped in afterAll, failed test or not.
 */
class StandaloneClusterSuite extends AnyFunSuite with BeforeAndAfterAll {

  private val scratch = Files.createTempDirectory("fedspark-cluster-")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)
  private val classpath = System.getProperty("java.class.path")
  private val javaBin = System.getProperty("java.home") + "/bin/java"
  // The module openings Spark needs on Java 17, as this JVM got them from the build.
  private val jvmOptions = ManagementFactory.getRuntimeMXBean.getInputArguments.asScala
    .filter(a => a.startsWith("--add-opens") || a.startsWith("--add-exports") || a.startsWith("-XX:+IgnoreUnrecognized")).toList
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
    Files.writeString(home.resolve("RELEASE"), "Spark 3.5 (the build's classpath)\n")
    home
  }

  private def start(name: String, mainClass: String, heap: String, args: String*): Process = {
    Files.createDirectories(logs)
    val command = (Seq(javaBin, s"-Xmx$heap") ++ jvmOptions ++ Seq("-cp", classpath, mainClass) ++ args).asJava
    val builder = new ProcessBuilder(command)
      .redirectErrorStream(true)
      .redirectOutput(logs.resolve(name + ".log").toFile)
    val env = builder.environment()
    env.put("SPARK_HOME", sparkHome.toString)
    env.put("SPARK_SCALA_VERSION", "2.12")
    env.put("SPARK_LOCAL_IP", "127.0.0.1")
    env.put("OMP_NUM_THREADS", "1")
    val process = builder.start()
    processes.synchronized(processes += process)
    process
  }

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

  private def logTails(): String = {
    val files = Files.walk(scratch).iterator().asScala.filter(p => Files.isRegularFile(p) &&
      (p.toString.endsWith(".log") || p.getFileName.toString == "stderr")).toList
    files.map(f => s"== $f\n" + Files.readAllLines(f).asScala.takeRight(25).mkString("\n")).mkString("\n")
  }

  override def beforeAll(): Unit = {
    Runtime.getRuntime.addShutdownHook(stopOnExit)
    start("master", "org.apache.spark.deploy.master.Master", "512m",
      "--host", "127.0.0.1", "--port", masterPort.toString, "--webui-port", masterUiPort.toString)
    for (w <- 1 to 2) {
      start(s"worker-$w", "org.apache.spark.deploy.worker.Worker", "512m",
        "--host", "127.0.0.1", "--port", "0", "--webui-port", "0", "--cores", "1", "--memory", "1536m",
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

  private def experiment(name: String, body: String = ""): String = {
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
         |    "spark.executor.extraClassPath" = "$classpath"
         |    "spark.executorEnv.OMP_NUM_THREADS" = "1"
         |    "spark.executor.memory" = "1g"
         |    "spark.executor.cores" = "1"
         |    "spark.cores.max" = "2"
         |    "spark.driver.host" = "127.0.0.1"
         |    "spark.driver.bindAddress" = "127.0.0.1"
         |    "spark.ui.enabled" = "false"
         |    # start training only when both executors are there, so the clients spread over two JVMs
         |    "spark.scheduler.minRegisteredResourcesRatio" = "1.0"
         |    "spark.scheduler.maxRegisteredResourcesWaitingTime" = "120s"
         |    "spark.locality.wait" = "10s"
         |  }
         |  $body
         |}""".stripMargin)
    file.toString
  }

  /** Starts `fedspark train` as its own driver JVM against the cluster. */
  private def startOnCluster(name: String, settings: String*): Process =
    start(s"driver-$name", "fedspark.jobs.FedSpark", "1g",
      Seq("train", experiment(name), "--run-dir", s"$scratch/runs/$name", "--set", s"""spark.master="$masterUrl"""") ++
        settings.flatMap(s => Seq("--set", s)): _*)

  /** Waits for a driver started by startOnCluster; returns its run folder. */
  private def finish(name: String, driver: Process): String = {
    val finished = driver.waitFor(300, java.util.concurrent.TimeUnit.SECONDS)
    assert(finished && driver.exitValue() == 0, s"driver $name failed\n" + logTails())
    s"$scratch/runs/$name"
  }

  /** Runs `fedspark train` as its own driver JVM against the cluster; returns the run folder. */
  private def trainOnCluster(name: String, settings: String*): String = finish(name, startOnCluster(name, settings: _*))

  private def trainLocally(name: String, master: String, settings: String*): String = {
    val runDir = s"$scratch/runs/$name"
    val cli = FedSpark.commandLine()
    val code = cli.execute(Seq("train", experiment(name), "--run-dir", runDir, "--set", s"""spark.master="$master"""") ++
      settings.flatMap(s => Seq("--set", s)): _*)
    assert(code == 0)
    runDir
  }

  /** The executor JVMs the workers launched (CoarseGrainedExecutorBackend), alive now. */
  private def executorJvms(): Seq[ProcessHandle] = processes.synchronized(processes.toList).flatMap(_.toHandle.descendants().iterator().asScala)
    .filter(h => h.isAlive && commandLine(h).contains("CoarseGrainedExecutorBackend"))

  // ProcessHandle.Info drops the arguments of long command lines (an executor's carries the whole classpath): read /proc.
  private def commandLine(h: ProcessHandle): String =
    try new String(Files.readAllBytes(Paths.get(s"/proc/${h.pid}/cmdline"))) catch { case _: java.io.IOException => "" }

  private def parameters(runDir: String): Array[Float] =
    FlatParameters.of(ModelSerializer.restoreMultiLayerNetwork(new File(runDir, "model.zip")))

  private def audit(runDir: String): Seq[PrivacyAudit.TaskRow] =
    PrivacyAudit.parseCsv(Files.readString(Paths.get(runDir, "audit.csv"))).asScala.toSeq

  test("FedAvg on two executors: the parameters of local[1] and local[2], clients kept on their executor, no raw data moved") {
    val cluster = trainOnCluster("cluster")
    val one = trainLocally("local-1", "local[1]")
    val two = trainLocally("local-2", "local[2]")
    assert(parameters(cluster).sameElements(parameters(one)), "cluster vs local[1]")
    assert(parameters(one).sameElements(parameters(two)), "local[1] vs local[2]")

    val tasks = audit(cluster).filter(t => t.isClientTask && t.status == "success")
    assert(tasks.map(_.round).distinct.sorted == (0 to 5), "round 0: every client preloaded where it will train")
    assert(tasks.count(_.round == 0) == 8)
    val executors = tasks.map(_.executor).distinct
    assert(executors.size == 2 && !executors.contains("driver"), s"clients served by $executors")
    for ((client, served) <- tasks.groupBy(_.client)) {
      assert(served.map(_.executor).distinct.size == 1,
        s"client $client moved between executors:\n" + Files.readString(Paths.get(cluster, "audit.csv")))
    }
    assert(tasks.forall(_.shuffleReadBytes == 0))
    val summary = Files.readString(Paths.get(cluster, "audit.conf"))
    assert(summary.contains("raw-data-bytes-between-executors = 0"), summary)
    assert(summary.contains("affinity-misses = 0"), summary)
  }

  test("on the cluster, a round whose tasks all fail their first attempt ends with the same parameters") {
    val clean = s"$scratch/runs/cluster"
    val retried = trainOnCluster("cluster-retried", "train.fail-first-attempts-in-round=3")
    assert(parameters(retried).sameElements(parameters(clean)))
    val round3 = audit(retried).filter(t => t.round == 3 && t.isClientTask)
    assert(round3.count(_.status == "failed") == 4 && round3.filter(_.status == "success").forall(_.attempt == 1))
    assert(round3.filter(_.status == "success").map(_.client).distinct.size == 4, "each sampled client counted once")
  }

  test("SCAFFOLD on the cluster equals local mode bit for bit, also when an executor's JVM is killed during the run") {
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
    val orphans = served.filter(_.executor == killedId).map(_.client).toSet
    val lastRound = served.filter(_.round == 8)
    assert(lastRound.nonEmpty && !lastRound.exists(_.executor == killedId), s"round 8 served by ${lastRound.map(_.executor)}")
    assert(served.exists(t => t.round > 3 && orphans.contains(t.client) && t.executor != killedId),
      s"no client of executor $killedId trained after it died:\n" + Files.readString(Paths.get(killed, "audit.csv")))
  }
}
