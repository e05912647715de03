package fedspark.jobs

import java.io.{File, FileOutputStream}
import java.nio.file.{Files, Path, Paths}
import java.util.concurrent.TimeUnit

import scala.collection.JavaConverters._
import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.yarn.conf.YarnConfiguration
import org.apache.hadoop.yarn.server.MiniYARNCluster
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/**
 * docs/cluster.md's two YARN commands (client and cluster deploy mode), run by `spark-submit` of the packaged
 * `fedspark.jar` against Hadoop's MiniYARNCluster: a ResourceManager and a NodeManager in this JVM, every container
 * (application master, executors) a JVM of its own that the NodeManager launches. Spark-submit and the containers
 * get only what a YARN-enabled Spark distribution provides (the jobs module's `provided` dependencies, spark-yarn
 * among them) and a HADOOP_CONF_DIR naming the cluster; the commands run as the document writes them, with what only
 * a one-machine test changes appended after them. Each run must end with the parameters of the same small experiment
 * in `local[2]`, also when an executor's container is killed mid-run. It runs after `package` (the `packaged` tag:
 * `mvn verify`); everything started here is stopped in afterAll, failed test or not.
 */
class YarnClusterSuite extends AnyFunSuite with BeforeAndAfterAll {

  import ClusterRuns._

  // lazy: a build that runs no packaged test (mvn test) creates nothing
  private lazy val scratch = Files.createTempDirectory("fedspark-yarn-")
  private lazy val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)
  private lazy val hadoopConfDir = Files.createDirectories(scratch.resolve("hadoop-conf"))
  private lazy val logs = Files.createDirectories(scratch.resolve("logs"))
  private val processes = ArrayBuffer[Process]()
  private val stopOnExit = new Thread(() => stopProcesses())
  private var yarn: MiniYARNCluster = _

  /** docs/cluster.md's YARN commands by deploy mode, their words as the shell passes them to spark-submit. */
  private lazy val documented: Map[String, List[String]] =
    DocsCommandsSuite.parse("docs/cluster.md", Files.readString(repo.resolve("docs/cluster.md"))).map(_.words)
      .filter(w => w.head == DocsCommandsSuite.SparkSubmit && option(w, "--master").contains("yarn"))
      .map(w => option(w, "--deploy-mode").getOrElse("client") -> w).toMap

  private def option(words: List[String], name: String): Option[String] = words.sliding(2).collectFirst { case List(`name`, v) => v }

  /** The fedspark arguments after the jar, the file system the commands name (HDFS) replaced by this machine's disk. */
  private def fedsparkArguments(mode: String): List[String] = {
    val words = documented(mode)
    words.drop(words.indexOf("fedspark.jar") + 1).map(_.replace("hdfs:///fedspark/", s"file://$scratch/"))
  }

  /** The small experiment, set after the document's settings: 240 examples, 8 clients, 6 rounds of SCAFFOLD, whose
   * clients' state must outlive an executor. */
  private lazy val small: Seq[String] = Seq(s"""data.source.path="$idx"""", "partition.clients=8", "train.C=0.5",
    "train.rounds=6", "train.algorithm=scaffold").flatMap(s => Seq("--set", s))

  private def runDir(name: String) = s"$scratch/runs/$name"

  override def beforeAll(): Unit = {
    Runtime.getRuntime.addShutdownHook(stopOnExit)
    try startYarn() catch {
      case e: Throwable =>
        afterAll()
        throw e
    }
  }

  /** The cluster, and a HADOOP_CONF_DIR that names it. */
  private def startYarn(): Unit = {
    val conf = new YarnConfiguration()
    // hadoop-client-minicluster has no capacity-scheduler.xml: one queue, the whole cluster
    conf.set("yarn.scheduler.capacity.root.queues", "default")
    conf.set("yarn.scheduler.capacity.root.default.capacity", "100")
    // application masters may take half of it, not the default 10% (less than one of them on a cluster this small)
    conf.set("yarn.scheduler.capacity.maximum-am-resource-percent", "0.5")
    // a disk over 90% full must not make the NodeManager unhealthy (no containers) on a developer's machine
    conf.set("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "100.0")
    // room for the application master and two executors of 2 GiB (the minicluster's own default: 4 GiB)
    conf.set(YarnConfiguration.YARN_MINICLUSTER_NM_PMEM_MB, "8192")
    // YARN's physical-memory check, which the minicluster turns off unless told, kills a container that outgrows its
    // request; not the virtual-memory one: JVMs reserve far more address space than they use
    conf.set(YarnConfiguration.YARN_MINICLUSTER_CONTROL_RESOURCE_MONITORING, "true")
    conf.set(YarnConfiguration.NM_VMEM_CHECK_ENABLED, "false")
    // what a real node's environment holds and this JVM's may not
    conf.set("yarn.nodemanager.admin-env", s"JAVA_HOME=${System.getProperty("java.home")}")
    yarn = new MiniYARNCluster(getClass.getSimpleName, 1, 1, 1)
    yarn.init(conf)
    yarn.start()
    // start() can return before the ResourceManager has written its bound ports into the configuration
    val addresses = Seq(YarnConfiguration.RM_ADDRESS, YarnConfiguration.RM_SCHEDULER_ADDRESS, YarnConfiguration.RM_WEBAPP_ADDRESS)
    val deadline = System.currentTimeMillis() + 30000
    while (addresses.exists(a => yarn.getConfig.get(a).endsWith(":0")) && System.currentTimeMillis() < deadline) Thread.sleep(100)
    assert(yarn.waitForNodeManagersToConnect(60000), "the NodeManager did not register within 60 s")
    assert(!addresses.exists(a => yarn.getConfig.get(a).endsWith(":0")), addresses.map(yarn.getConfig.get))

    // The client configuration a gateway machine has: where the ResourceManager is, and the default file system.
    val site = new Configuration(false)
    addresses.foreach(a => site.set(a, yarn.getConfig.get(a)))
    write(site, "yarn-site.xml")
    val core = new Configuration(false)
    core.set("fs.defaultFS", "file:///")
    write(core, "core-site.xml")
  }

  private def write(conf: Configuration, name: String): Unit = {
    val out = new FileOutputStream(hadoopConfDir.resolve(name).toFile)
    try conf.writeXml(out) finally out.close()
  }

  override def afterAll(): Unit = {
    try {
      stopProcesses()
      if (yarn != null) yarn.stop()
    } finally {
      Runtime.getRuntime.removeShutdownHook(stopOnExit)
      TestData.deleteRecursively(scratch)
      if (yarn != null) TestData.deleteRecursively(yarn.getTestWorkDir.getParentFile.toPath) // target/test/data/<suite>
    }
  }

  /** Starts {@code command} in the repository (where the documented relative paths are) with its output in logs/. */
  private def start(name: String, command: Seq[String]): Process = {
    val process = startProcess(command, logs.resolve(name + ".log"), Map("HADOOP_CONF_DIR" -> hadoopConfDir.toString), Some(repo))
    processes.synchronized(processes += process)
    process
  }

  /** Stops every process started here, their children and the containers (named by the NodeManager's folders), politely first. */
  private def stopProcesses(): Unit = processes.synchronized {
    val containers = Option(yarn).toList.flatMap { y =>
      val folder = y.getTestWorkDir.getAbsolutePath
      ProcessHandle.current().descendants().iterator().asScala.filter(h => commandLine(h).contains(folder)).toList
    }
    val all = (processes.flatMap(p => p.toHandle.descendants().iterator().asScala.toSeq :+ p.toHandle) ++ containers).distinct
    all.foreach(_.destroy())
    val deadline = System.currentTimeMillis() + 15000
    all.foreach(h => while (h.isAlive && System.currentTimeMillis() < deadline) Thread.sleep(50))
    all.filter(_.isAlive).foreach(_.destroyForcibly())
    processes.clear()
  }

  /** The containers' stdout and stderr files, in the NodeManager's log folders (YARN keeps them after the application). */
  private def containerLogs(): Seq[Path] = Option(yarn).toSeq.flatMap(y => Files.list(y.getTestWorkDir.toPath).iterator().asScala.toList)
    .filter(_.getFileName.toString.contains("logDir"))
    .flatMap(d => Files.walk(d).iterator().asScala.filter(p => Set("stdout", "stderr").contains(p.getFileName.toString)).toList)

  /** The end of every log here: this suite's processes' and the containers'. */
  private def logTails(except: Path = null): String = {
    val files = (Files.list(logs).iterator().asScala.toList ++ containerLogs()).filter(_ != except)
    files.map(f => s"== $f\n" + Files.readAllLines(f).asScala.takeRight(25).mkString("\n")).mkString("\n")
  }

  /** Waits for a driver or spark-submit; returns the run folder. */
  private def finish(name: String, process: Process): String = {
    awaitSuccess(name, process, own => logTails(except = own))
    runDir(name)
  }

  /** The client-mode command's experiment in local[2] through bin/fedspark (with its BLAS defaults): the reference. */
  private lazy val local: String = {
    val name = "local-2"
    finish(name, start(name, Seq(launcher) ++ fedsparkArguments("client") ++ small ++
      Seq("--set", """spark.master="local[2]"""", "--run-dir", runDir(name))))
  }

  /**
   * docs/cluster.md's command for {@code mode}, followed by what a one-machine test changes: the packaged jar; one
   * core and 1 GiB (plus 1 GiB off the heap) an executor; Spark's jars where every node has them (the build's,
   * local: URIs) and the staging folder on this machine's disk; the kernels the local run used (spark-submit passes
   * on no environment, and other kernels sum in another order).
   */
  private def submit(mode: String, name: String): Process = {
    val words = documented(mode)
    val changes = Seq(
      "--executor-cores", "1", "--executor-memory", "1g", "--conf", "spark.executor.memoryOverhead=1g",
      "--conf", "spark.yarn.jars=" + sparkJars.map("local:" + _).mkString(","),
      "--conf", s"spark.yarn.stagingDir=$scratch/staging",
      // the loopback address for Spark in the containers to bind and advertise, not the machine's other interfaces
      "--conf", "spark.yarn.appMasterEnv.SPARK_LOCAL_IP=127.0.0.1", "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
      "--conf", s"spark.executorEnv.OPENBLAS_CORETYPE=${openBlasKernel(local)}",
      // YARN's two executors: train once both have registered, as the tests below look at two
      "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
      "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
      "--conf", "spark.ui.enabled=false")
    val arguments = words.slice(1, words.indexOf("fedspark.jar")) ++ changes ++ Seq(packagedJar.toString) ++
      fedsparkArguments(mode) ++ small ++ Seq("--run-dir", runDir(name))
    // what the spark-submit script runs: Spark's classes and HADOOP_CONF_DIR
    start(s"spark-submit-$name", Seq(javaBin, "-Xmx1g") ++ jvmOptions ++
      Seq("-cp", (hadoopConfDir.toString +: sparkJars).mkString(File.pathSeparator), "org.apache.spark.deploy.SparkSubmit") ++ arguments)
  }

  /** The executor JVMs YARN's NodeManager launched in containers (not the shells that start them), alive now. */
  private def executorJvms(): Seq[ProcessHandle] = ProcessHandle.current().descendants().iterator().asScala.toList
    .filter { h =>
      val words = commandLine(h).split("\u0000")
      h.isAlive && words.head.endsWith("/bin/java") && words.contains("org.apache.spark.executor.YarnCoarseGrainedExecutorBackend")
    }

  /** A run on YARN against the local one: the same parameters, two executors, the same kernels, no raw data moved. */
  private def assertAsLocal(runDir: String): Unit = {
    assert(parameters(runDir).sameElements(parameters(local)), s"$runDir vs local[2]")
    val executors = clientTasks(runDir).map(_.executor).distinct
    assert(executors.size >= 2 && !executors.contains("driver"), s"clients served by $executors")
    assert(kernels(runDir).values.toSet == kernels(local).values.toSet, kernels(runDir))
    val summary = Files.readString(Paths.get(runDir, "audit.conf"))
    assert(summary.contains("raw-data-bytes-between-executors = 0"), summary)
  }

  test("docs/cluster.md has a YARN command for each deploy mode; cluster mode ships the experiment file it names", Packaged) {
    assert(documented.keySet == Set("client", "cluster"), documented.keySet)
    for ((mode, words) <- documented) {
      assert(option(words, "--class").contains("fedspark.jobs.FedSpark"), mode)
      assert(words.containsSlice(Seq("--conf", "spark.executorEnv.OMP_NUM_THREADS=1")), s"$mode: one BLAS thread a task")
      assert(words.exists(_.startsWith("spark.executor.memoryOverhead=")), s"$mode: nd4j's memory off the Java heap")
      assert(fedsparkArguments(mode).head == "train" && words.exists(_.contains("hdfs:///fedspark/")), words)
    }
    val experiment = fedsparkArguments("client")(1)
    assert(Files.isRegularFile(repo.resolve(experiment)), experiment)
    val cluster = documented("cluster")
    assert(option(cluster, "--files").contains(experiment) && fedsparkArguments("cluster")(1) == new File(experiment).getName,
      "cluster mode: the driver reads the experiment file --files put in its container's folder")
    assert(cluster.containsSlice(Seq("--conf", "spark.yarn.appMasterEnv.OMP_NUM_THREADS=1")), "cluster mode: the driver's BLAS threads")
  }

  test("client mode: the documented command ends with the parameters of local[2]", Packaged, FirstLineOnly) {
    assert(Files.exists(packagedJar), s"$packagedJar: run the packaged tests with mvn verify")
    assertAsLocal(finish("client", submit("client", "client")))
  }

  test("cluster mode: the documented command, its driver in the application master's container, ends with the parameters of local[2]", Packaged) {
    val runDir = finish("cluster", submit("cluster", "cluster"))
    assertAsLocal(runDir)
    // the driver's own output ("done: <run folder>") is in the application master's container log, not spark-submit's
    val submitLog = Files.readString(logs.resolve("spark-submit-cluster.log"))
    val application = """application_\d+_\d+""".r.findFirstIn(submitLog).getOrElse(fail("no application id:\n" + submitLog))
    val amStdout = containerLogs().find(p => p.getFileName.toString == "stdout" && p.toString.contains(application) &&
      p.getParent.getFileName.toString.endsWith("_000001"))
    val done = """done: \S*/runs/cluster\b""".r
    assert(amStdout.exists(p => done.findFirstIn(Files.readString(p)).nonEmpty), s"$application: the AM container's stdout\n" + logTails())
    assert(done.findFirstIn(submitLog).isEmpty, submitLog)
  }

  test("cluster mode, an executor's container killed after round 2: the same parameters, its clients trained elsewhere", Packaged, FirstLineOnly) {
    val name = "cluster-killed"
    val submitted = submit("cluster", name)
    val metrics = Paths.get(runDir(name), "metrics.csv")
    val deadline = System.currentTimeMillis() + 240000
    // after round 2 (header + 2 rows), SIGKILL one executor: its cached shards and client state are gone with it
    while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3) && submitted.isAlive && System.currentTimeMillis() < deadline) Thread.sleep(20)
    val victims = executorJvms()
    assert(victims.size == 2, s"executor JVMs: ${victims.map(_.pid)}\n" + logTails())
    val killedId = option(commandLine(victims.head).split("\u0000").toList, "--executor-id").get
    victims.head.destroyForcibly()
    val killed = finish(name, submitted)
    assert(parameters(killed).sameElements(parameters(local)), "killed executor vs local[2]")
    // the dead executor's clients trained again elsewhere, reading their state from the run folder
    val served = clientTasks(killed)
    val orphans = served.filter(_.executor == killedId).flatMap(_.clientList).toSet
    val lastRound = served.filter(_.round == 6)
    assert(lastRound.nonEmpty && !lastRound.exists(_.executor == killedId), s"round 6 served by ${lastRound.map(_.executor)}")
    assert(served.exists(t => t.round > 3 && t.clientList.exists(orphans) && t.executor != killedId),
      s"no client of executor $killedId trained after it died:\n" + Files.readString(Paths.get(killed, "audit.csv")))
  }
}
