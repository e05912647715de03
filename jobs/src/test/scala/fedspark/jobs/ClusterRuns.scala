package fedspark.jobs

import java.io.File
import java.lang.management.ManagementFactory
import java.nio.file.{Files, Path, Paths}

import scala.collection.JavaConverters._

import org.deeplearning4j.util.ModelSerializer

import fedspark.engine.PrivacyAudit
import fedspark.models.FlatParameters

/** What the cluster suites (standalone, YARN) share: the built artifacts, how they start processes, what they read back. */
object ClusterRuns {

  val repo: Path = Paths.get(System.getProperty("user.dir")).getParent // Maven runs a module's tests in the module
  val launcher: String = repo.resolve("bin/fedspark").toString
  val packagedJar: Path = repo.resolve("jobs/target/fedspark.jar")
  /** What a Spark distribution provides (package time): the jobs module's 'provided' dependencies and what fedspark.jar leaves to it. */
  lazy val sparkJars: Seq[String] = Seq("spark-classpath.txt", "spark-shipped-classpath.txt")
    .flatMap(f => Files.readString(repo.resolve("jobs/target").resolve(f)).strip().split(File.pathSeparator))
  val javaBin: String = System.getProperty("java.home") + "/bin/java"
  // The module openings Spark needs on Java 17, as this JVM got them from the build.
  val jvmOptions: List[String] = ManagementFactory.getRuntimeMXBean.getInputArguments.asScala
    .filter(a => a.startsWith("--add-opens") || a.startsWith("--add-exports") || a.startsWith("-XX:+IgnoreUnrecognized")).toList

  /**
   * Starts {@code command} with its output in {@code log} and {@code env} added; the kernel settings of this JVM's
   * environment are not passed on: only what fedspark and the commands set reaches the executors.
   */
  def startProcess(command: Seq[String], log: Path, env: Map[String, String], directory: Option[Path] = None): Process = {
    val builder = new ProcessBuilder(command.asJava).redirectErrorStream(true).redirectOutput(log.toFile)
    directory.foreach(d => builder.directory(d.toFile))
    val environment = builder.environment()
    environment.put("SPARK_LOCAL_IP", "127.0.0.1")
    environment.remove("OMP_NUM_THREADS")
    environment.remove("OPENBLAS_CORETYPE")
    environment.remove("DNNL_MAX_CPU_ISA")
    environment.put("FEDSPARK_JAVA_OPTS", "-Xmx1g")
    env.foreach { case (k, v) => environment.put(k, v) }
    val process = builder.start()
    logOf.put(process, log)
    process
  }

  /** The log each process started here writes to. */
  private val logOf = new java.util.concurrent.ConcurrentHashMap[Process, Path]()

  val DriverTimeoutSeconds = 300

  /**
   * Waits up to {@link DriverTimeoutSeconds} for {@code process} (a driver, spark-submit) to end with exit code 0. A
   * failure says which of the two it was and ends with what tells most, as CI shows a failure's last lines only: the
   * process's own log (after {@code otherLogs}, given that log to leave out: the cluster's), and, for a process that
   * did not end, its threads as the kernel lists them and as `jcmd Thread.print` saw them before it was killed, the
   * main thread and any thread in a shutdown hook last.
   */
  def awaitSuccess(name: String, process: Process, otherLogs: Path => String): Unit = {
    val log = logOf.get(process)
    val finished = process.waitFor(DriverTimeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)
    if (finished && process.exitValue() == 0) return
    val what = if (finished) s"$name exited with code ${process.exitValue()}" else s"$name did not end within $DriverTimeoutSeconds s"
    val threads = if (finished) "" else {
      // bin/fedspark execs its JVM, except on the run that writes the class archive (a child then)
      val jvm = (process.toHandle +: process.toHandle.descendants().iterator().asScala.toSeq)
        .find(h => commandLine(h).split("\u0000").headOption.exists(_.endsWith("java"))).getOrElse(process.toHandle)
      val blocks = threadDump(jvm.pid()).split("\n\n").toSeq
      val (telling, others) = blocks.partition(b => b.startsWith("\"main\"") || b.contains("hutdown"))
      s"\n== the threads of $name as the kernel sees them (id, name, state, wait channel)\n${kernelThreads(jvm.pid())}" +
        s"\n== the threads of $name (jcmd Thread.print)\n" + (others ++ telling).mkString("\n\n")
    }
    if (!finished) process.destroyForcibly()
    val own = if (Files.exists(log)) Files.readAllLines(log).asScala.takeRight(80).mkString("\n") else "(no log)"
    throw new AssertionError(s"$what\n${otherLogs(log)}\n== $log (the last 80 lines)\n$own$threads")
  }

  /** Every thread of process {@code pid}, native ones too (a JVM that hangs past its Java threads' end shows there). */
  private def kernelThreads(pid: Long): String = {
    val tasks = Paths.get(s"/proc/$pid/task")
    def read(file: Path) = try Files.readString(file).trim catch { case _: java.io.IOException => "?" }
    if (!Files.isDirectory(tasks)) "(gone)"
    else Files.list(tasks).iterator().asScala.toSeq.sortBy(_.getFileName.toString.toLong).map { task =>
      val stat = read(task.resolve("stat"))
      s"${task.getFileName} ${read(task.resolve("comm"))} ${stat.drop(stat.lastIndexOf(')') + 2).take(1)} ${read(task.resolve("wchan"))}"
    }.mkString("\n")
  }

  /** jcmd's thread dump of {@code pid}; given 30 s (a wedged JVM may not answer), so the failure is reported anyway. */
  private def threadDump(pid: Long): String = {
    val out = Files.createTempFile("jcmd-", ".txt")
    try {
      val jcmd = new ProcessBuilder(javaBin.replace("/bin/java", "/bin/jcmd"), pid.toString, "Thread.print")
        .redirectErrorStream(true).redirectOutput(out.toFile).start()
      val ended = jcmd.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)
      if (!ended) jcmd.destroyForcibly()
      Files.readString(out) + (if (ended) "" else "\n(jcmd did not answer within 30 s)")
    } finally Files.deleteIfExists(out)
  }

  // ProcessHandle.Info drops the arguments of long command lines (an executor's carries the whole classpath): read /proc.
  def commandLine(h: ProcessHandle): String =
    try new String(Files.readAllBytes(Paths.get(s"/proc/${h.pid}/cmdline"))) catch { case _: java.io.IOException => "" }

  def parameters(runDir: String): Array[Float] =
    FlatParameters.of(ModelSerializer.restoreMultiLayerNetwork(new File(runDir, "model.zip")))

  def audit(runDir: String): Seq[PrivacyAudit.TaskRow] =
    PrivacyAudit.parseCsv(Files.readString(Paths.get(runDir, "audit.csv"))).asScala.toSeq

  /** The successful client tasks of a run. */
  def clientTasks(runDir: String): Seq[PrivacyAudit.TaskRow] = audit(runDir).filter(t => t.isClientTask && t.status == "success")

  /** The kernels the audit saw on each executor that trained clients ("session.executor" -> kernel). */
  def kernels(runDir: String): Map[String, String] =
    clientTasks(runDir).map(t => s"${t.session}.${t.executor}" -> t.blasKernel).toMap

  /** The OpenBLAS kernel of a run's first client task, what OPENBLAS_CORETYPE names ("Haswell" of "Haswell + oneDNN avx2"). */
  def openBlasKernel(runDir: String): String = kernels(runDir).values.head.split(" \\+ ")(0)
}
