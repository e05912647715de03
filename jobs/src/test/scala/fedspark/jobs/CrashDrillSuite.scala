package fedspark.jobs

import java.io.{File, PrintWriter, StringWriter}
import java.lang.management.ManagementFactory
import java.nio.file.{Files, Paths}
import java.util.concurrent.TimeUnit

import scala.collection.JavaConverters._

import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.partition.PartitionInfo
import fedspark.testing.TestData

/**
 * kill -9 of the driver at seeded moments of a short SCAFFOLD run (start-up, during rounds, while checkpoints are
 * written, after the last round), each followed by `resume` (or, when the kill came before the run folder held its
 * configuration, `train` again into the same folder): every trial ends with the uninterrupted run's checkpoint, byte
 * for byte, and its metrics rows, each exactly once.
 */
class CrashDrillSuite extends AnyFunSuite with BeforeAndAfterAll {

  private val scratch = Files.createTempDirectory("fedspark-drill-")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 1800, test = 100)
  private val rounds = 8
  private val conf = {
    val file = scratch.resolve("drill.conf")
    Files.writeString(file,
      s"""fedspark {
         |  name = drill
         |  model = mcmahan-2nn
         |  data { source { format = idx, path = "$idx" }, prepared = "$scratch/prepared" }
         |  spark.master = "local[2]"
         |  partition { scheme = dirichlet, beta = 0.5, clients = 6, seed = 0, min-client-size = 20 }
         |  train { rounds = $rounds, C = 0.5, E = 4, B = 10, lr = 0.05, seed = 3, algorithm = scaffold, checkpoint-every = 2 }
         |}""".stripMargin)
    file.toString
  }
  private val children = scala.collection.mutable.ArrayBuffer[Process]()

  override def afterAll(): Unit = {
    children.foreach(_.destroyForcibly())
    TestData.deleteRecursively(scratch)
  }

  /** The command line in this JVM; the exit code and what it printed as an error. */
  private def fedspark(args: String*): (Int, String) = {
    val errors = new StringWriter()
    val cli = FedSpark.commandLine()
    cli.setErr(new PrintWriter(errors, true))
    (cli.execute(args: _*), errors.toString)
  }

  /** `fedspark train` as a driver JVM of its own, to be killed. */
  private def startDriver(runDir: String): Process = startFedspark(runDir + ".log", "train", conf, "--run-dir", runDir)

  private def startFedspark(log: String, args: String*): Process = {
    val options = ManagementFactory.getRuntimeMXBean.getInputArguments.asScala.filter(a => a.startsWith("--add-opens") || a.startsWith("--add-exports"))
    val command = (Seq(System.getProperty("java.home") + "/bin/java", "-Xmx1g") ++ options ++
      Seq("-cp", System.getProperty("java.class.path"), "fedspark.jobs.FedSpark") ++ args).asJava
    val process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(new File(log)).start()
    children += process
    process
  }

  private def rows(runDir: String): Int = {
    val csv = Paths.get(runDir, "metrics.csv")
    if (Files.exists(csv)) Files.readAllLines(csv).size() - 1 else -1
  }

  private def withoutSeconds(runDir: String) =
    Files.readAllLines(Paths.get(runDir, "metrics.csv")).asScala.map(_.split(",").patch(6, Nil, 1).mkString(","))

  test("ten kill -9 of the driver at seeded moments, each resumed: the uninterrupted run's checkpoint and metrics, exactly once") {
    val whole = s"$scratch/runs/whole"
    assert(fedspark("train", conf, "--run-dir", whole)._1 == 0) // also prepares and partitions, so trials share the data
    val reference = Files.readAllBytes(Paths.get(whole, "checkpoint.bin"))
    val random = new scala.util.Random(2026)
    for (((afterRows, delayMs), trial) <- moments(random).zipWithIndex) {
      val runDir = s"$scratch/runs/trial-$trial"
      val driver = startDriver(runDir)
      val deadline = System.currentTimeMillis() + 120000
      while (rows(runDir) < afterRows && driver.isAlive && System.currentTimeMillis() < deadline) Thread.sleep(5)
      Thread.sleep(delayMs)
      val killedAt = rows(runDir)
      // a driver that had already ended (finished or failed) would make the trial vacuous: it must die by the kill
      if (!driver.isAlive) fail(s"trial $trial: the driver had exited (code ${driver.exitValue}) before the kill, with $killedAt rows\n" +
        Files.readString(Paths.get(runDir + ".log")))
      assert(driver.destroyForcibly().waitFor(30, TimeUnit.SECONDS), s"trial $trial: the driver outlived kill -9")
      assert(driver.exitValue == 137, s"trial $trial: the driver ended with ${driver.exitValue}, not by SIGKILL (137)")
      var (code, error) = fedspark("resume", runDir)
      if (code != 0 && error.contains("no run to resume")) {
        val again = fedspark("train", conf, "--run-dir", runDir)
        code = again._1
        error = again._2
      }
      assert(code == 0, s"trial $trial (killed after ${killedAt} rows): $error\n" + Files.readString(Paths.get(runDir + ".log")))
      assert(java.util.Arrays.equals(Files.readAllBytes(Paths.get(runDir, "checkpoint.bin")), reference),
        s"trial $trial (killed after $killedAt rows): another checkpoint")
      assert(withoutSeconds(runDir) == withoutSeconds(whole), s"trial $trial (killed after $killedAt rows): other metrics rows")
      info(s"trial $trial: killed with $killedAt metrics rows written (waited for $afterRows, then $delayMs ms); resumed to the same bytes")
    }
  }

  test("kill -9 while data is prepared or partitioned: the next command writes it whole, nothing half-written is read") {
    val clean = s"$scratch/prepared" // written without interruption (by the first test, or here)
    if (!new File(clean, "partitions").isDirectory) assert(fedspark("partition", conf)._1 == 0)
    val cleanPartition = Paths.get(clean, "partitions").toFile.listFiles().filter(_.isDirectory).head.getName
    val random = new scala.util.Random(7)
    for (trial <- 0 until 4) {
      val prepared = s"$scratch/prepared-killed-$trial"
      val settings = Seq("--set", s"""data.prepared="$prepared"""")
      val jvm = startFedspark(s"$prepared.log", Seq("partition", conf) ++ settings: _*)
      // start-up takes a few seconds, then prepare (about a second here), then partition: seeded moments across all three
      Thread.sleep(1500 + random.nextInt(6000))
      if (!jvm.isAlive) fail(s"trial $trial: the command had exited (code ${jvm.exitValue}) before the kill")
      assert(jvm.destroyForcibly().waitFor(30, TimeUnit.SECONDS) && jvm.exitValue == 137, s"trial $trial: not ended by SIGKILL")
      val visible = Option(new File(s"$scratch").listFiles()).map(_.map(_.getName).filter(n => n.contains(s"prepared-killed-$trial") && !n.endsWith(".log")).sorted.toSeq)
        .getOrElse(Nil) ++ Option(new File(prepared).listFiles()).map(_.map(f => s"prepared-killed-$trial/${f.getName}").sorted.toSeq).getOrElse(Nil)
      val (code, error) = fedspark(Seq("partition", conf) ++ settings: _*)
      assert(code == 0, s"trial $trial (left ${visible.mkString(" ")}): $error")
      // the same bytes as the uninterrupted data: the clients' statistics and the prepared test table's info
      assert(Files.readString(Paths.get(prepared, "partitions", cleanPartition, PartitionInfo.FILE)) ==
        Files.readString(Paths.get(clean, "partitions", cleanPartition, PartitionInfo.FILE)))
      val leftovers = Files.walk(Paths.get(s"$scratch")).iterator().asScala.filter(_.getFileName.toString.contains(".writing-")).toList
      assert(leftovers.isEmpty, leftovers)
      info(s"trial $trial: killed with ${if (visible.isEmpty) "nothing" else visible.mkString(" ")} written; partition then completed")
    }
  }

  /**
   * Ten moments: after j metrics rows, then a seeded few milliseconds more. Two during start-up (j = -1: before any
   * row), one after each checkpointed round (2, 4, 6: while its checkpoint and client state are written), one after
   * the last round (8: while metrics/ and model.zip are written), four after seeded rounds.
   */
  private def moments(random: scala.util.Random): Seq[(Int, Int)] =
    (Seq(-1, -1, 2, 4, 6, rounds) ++ Seq.fill(4)(random.nextInt(rounds))).map(j =>
      (j, if (j < 0) 1500 + random.nextInt(4000) else random.nextInt(200)))
}
