package fedspark.jobs

import java.io.File
import java.nio.file.Files

import scala.sys.process._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/**
 * The PyTorch peer bench times fedspark against, on the same cores: a process per core, each training its share of a
 * round's clients, computes what one process computes (the clients' minibatch orders are seeded by round and client),
 * up to the order of the sum. Runs Debian's python3-torch (.ci/run installs it).
 */
class PyTorchPeerSuite extends AnyFunSuite {

  private val scratch = Files.createTempDirectory("fedspark-peer")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 400, test = 100, side = 28, classes = 10)

  /** The peer's per-round rows (round, clients, examples, train loss, test loss, accuracy) and what it said on stderr. */
  private def peer(settings: String*): (Seq[Seq[Double]], String) = {
    val errors = new StringBuilder
    val command = Seq("/usr/bin/python3", new File("../peers/pytorch_fedavg.py").getPath, "--data", idx.getPath, "--K", "8", "--C", "0.5",
      "--E", "2", "--B", "10", "--lr", "0.1", "--rounds", "3", "--seed", "4") ++ settings
    val out = Process(command, None, "OMP_NUM_THREADS" -> "1").!!(ProcessLogger(_ => (), line => errors.append(line).append('\n')))
    val rows = out.linesIterator.filter(l => l.nonEmpty && l.head.isDigit).map(_.split(",").toSeq.take(6).map(_.toDouble)).toSeq
    (rows, errors.toString)
  }

  test("two processes, each training half of a round's clients, give one process's rounds up to the order of the sum; so do two threads") {
    val (one, _) = peer()
    val (processes, said) = peer("--processes", "2")
    val (threads, _) = peer("--threads", "2")
    assert(said.contains("2 process(es) of 1 thread(s)"), said)
    assert(one.size == 3 && one.forall(r => r(1) == 4 && r(2) == 200), one)
    for ((other, name) <- Seq(processes -> "processes", threads -> "threads"); (a, b) <- one.zip(other)) {
      assert(a.take(3) == b.take(3), s"$name: $a vs $b")
      assert(a.drop(3).zip(b.drop(3)).forall { case (x, y) => math.abs(x - y) <= 2e-4 }, s"$name: $a vs $b")
    }
    // the rounds learn: the models moved from the initial one (a peer that averaged untrained copies would stay put)
    assert(one.last(3) < one.head(3), one)
  }
}
