package fedspark.jobs

import java.io.File
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

/** `fedspark tune`: seeded search, successive halving continuing trials from their checkpoints. */
class TuneSuite extends AnyFunSuite with CommandLineFixture {

  private def tuneConf(name: String, tune: String): File =
    experiment(name, s"""train { rounds = 4 }
                        |tune { dir = "$scratch/$name", $tune }""".stripMargin)

  test("successive halving with a fixed seed picks the same best trial twice, continuing trials rather than restarting them") {
    val space = """space { "train.lr" = [0.01, 0.1, 0.3], "train.E" = [1, 2] }, scheduler = successive-halving, min-rounds = 1, eta = 2"""
    for (name <- Seq("tune-a", "tune-b")) {
      val (code, errors) = fedspark("tune", tuneConf(name, space).getPath)
      assert(code == 0, errors)
    }
    def results(name: String) = Files.readAllLines(Paths.get(s"$scratch/$name", "results.csv")).asScala.toSeq
    assert(results("tune-a") == results("tune-b"), "same seed, same trials, same figures")
    assert(Files.readString(Paths.get(s"$scratch/tune-a", "best.conf")) == Files.readString(Paths.get(s"$scratch/tune-b", "best.conf")))
    val rows = results("tune-a").tail.map(_.split(","))
    assert(rows.size == 6, "the grid's 6 points are the trials")
    val rounds = rows.map(_(4).toInt)
    assert(rounds.sorted == Seq(1, 1, 1, 2, 2, 4), "6 trials 1 round, the best 3 to 2, the best to 4")
    assert(rounds.sum < 6 * 4, "fewer rounds than the full grid")
    val best = rows.find(_(4) == "4").get
    assert(Files.readString(Paths.get(s"$scratch/tune-a", "best.conf")).contains(s"train.lr = ${best(3)}"))
    // the winner went on from its checkpoints: one metrics row per round, three driver sessions
    val winner = s"$scratch/tune-a/${best(0)}"
    assert(Files.readAllLines(Paths.get(winner, "metrics.csv")).asScala.tail.map(_.split(",")(0).toInt) == Seq(1, 2, 3, 4))
    assert(com.typesafe.config.ConfigFactory.parseFile(new File(winner, "audit.conf")).getInt("sessions") == 3)
  }

  test("ranges are drawn seeded, log-uniform within their bounds; bad spaces are refused with the setting named") {
    val conf = tuneConf("draws", """space { "train.lr" { min = 0.001, max = 1, log = true }, "train.B" = [10, 50] }, trials = 20""")
    val tune = new Tune(Experiment.load(conf, java.util.List.of()))
    val trials = tune.trials(0, 20).asScala
    assert(trials.map(_.settings) == new Tune(Experiment.load(conf, java.util.List.of())).trials(0, 20).asScala.map(_.settings))
    val lrs = trials.map(_.settings.get("train.lr").asInstanceOf[Double])
    assert(lrs.forall(lr => lr >= 0.001 && lr <= 1) && lrs.count(_ < 0.0316) >= 5, "about half below the geometric middle")
    assert(trials.map(_.settings.get("train.B")).toSet == Set(10, 50))
    val (code, errors) = fedspark("tune", tuneConf("bad", """space { "train.banana" = [1] }""").getPath)
    assert(code == 2 && errors.contains("train.banana"), errors)
    val (grid, gridErrors) = fedspark("tune", tuneConf("bad-grid", """space { "train.lr" { min = 0.01, max = 1 } }, trials = 0""").getPath)
    assert(grid == 2 && gridErrors.contains("is a range"), gridErrors)
  }
}
