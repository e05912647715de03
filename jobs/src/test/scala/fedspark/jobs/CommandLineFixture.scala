package fedspark.jobs

import java.io.{File, PrintWriter, StringWriter}
import java.nio.file.Files

import org.scalatest.{BeforeAndAfterAll, Suite}

import fedspark.testing.TestData

/** A scratch folder with a small IDX data set, experiment files over it, and the command line run in this JVM. */
trait CommandLineFixture extends BeforeAndAfterAll { this: Suite =>

  protected val scratch = Files.createTempDirectory("fedspark-jobs-")
  protected val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)

  override def afterAll(): Unit = TestData.deleteRecursively(scratch)

  /** An experiment file: 6 IID clients, 3 rounds, C = 0.5, E = 2, B = 10, in local[2]; `body` adds or overrides settings. */
  protected def experiment(name: String, body: String): File = {
    val file = scratch.resolve(name + ".conf").toFile
    Files.writeString(file.toPath,
      s"""fedspark {
         |  name = $name
         |  model = mcmahan-2nn
         |  data { source { format = idx, path = "$idx" }, prepared = "$scratch/prepared" }
         |  output.runs = "$scratch/runs"
         |  spark.master = "local[2]"
         |  partition { scheme = iid, clients = 6, seed = 0 }
         |  train { rounds = 3, C = 0.5, E = 2, B = 10, lr = 0.1, seed = 4 }
         |  $body
         |}""".stripMargin)
    file
  }

  /** Runs the command line; returns the exit code and what it printed as an error. */
  protected def fedspark(args: String*): (Int, String) = {
    val errors = new StringWriter()
    val cli = FedSpark.commandLine()
    cli.setErr(new PrintWriter(errors, true))
    val code = cli.execute(args: _*)
    (code, errors.toString)
  }
}
