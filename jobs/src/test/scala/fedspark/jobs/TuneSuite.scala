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

  test("successive halving promotes the best by the metric in every rung: a search whose order is known (simulated time falls with speed)") {
    // every client takes E ceil(40 / B) = 8 steps a round; at speed s a round lasts 8 / s simulated seconds (bandwidth
    // all but infinite): the ranking by simulated_time (min) is the speeds' descending order, the grid's order is not
    val speeds = Seq(40, 320, 10, 160, 20, 80)
    val conf = experiment("tune-known", s"""model = logreg
      |train { rounds = 4, simulation { enabled = true, speed { median = 100, sigma = 0 }, bandwidth { median = 1e15, sigma = 0 } } }
      |tune { dir = "$scratch/tune-known", space { "train.simulation.speed.median" = [${speeds.mkString(", ")}] },
      |  scheduler = successive-halving, min-rounds = 1, eta = 2, metric = simulated_time, mode = min }""".stripMargin)
    val (code, errors) = fedspark("tune", conf.getPath)
    assert(code == 0, errors)
    val rows = Files.readAllLines(Paths.get(s"$scratch/tune-known", "results.csv")).asScala.tail.map(_.split(","))
    val rounds = rows.map(r => r(2).toInt -> r(3).toInt).toMap
    // rung 1: all six for 1 round, the best 3 (320, 160, 80) on to 2; rung 2: the best of them (320) on to 4
    assert(rounds == Map(320 -> 4, 160 -> 2, 80 -> 2, 40 -> 1, 20 -> 1, 10 -> 1), rounds)
    for (r <- rows) { // the metric each trial was ranked by, from the formula: rounds x 8 / speed
      val expected = r(3).toInt * 8.0 / r(2).toInt
      assert(math.abs(r(4).toDouble - expected) < 1e-5, s"speed ${r(2)}: ${r(4)} vs $expected")
    }
    assert(Files.readString(Paths.get(s"$scratch/tune-known", "best.conf")).contains("train.simulation.speed.median = 320"))
  }

  test("Hyperband's brackets as Li et al. (2018) define them: s_max = floor(log_eta R), n = ceil((s_max + 1) / (s + 1) eta^s), r = R eta^-s") {
    def brackets(min: Int, max: Int, eta: Int) = new Tune(Experiment.load(tuneConf(s"hyperband-$min-$max-$eta",
      s"""space { "train.lr" = [0.1] }, scheduler = hyperband, min-rounds = $min, max-rounds = $max, eta = $eta"""),
      java.util.List.of())).brackets().asScala.map(_.toSeq)
    // their Table 1: R = 81, eta = 3
    assert(brackets(1, 81, 3) == Seq(Seq(4, 81, 1), Seq(3, 34, 3), Seq(2, 15, 9), Seq(1, 8, 27), Seq(0, 5, 81)))
    for ((min, max, eta) <- Seq((1, 16, 2), (2, 18, 3), (1, 64, 4))) {
      val r = max / min // R in units of min-rounds
      val sMax = (0 to 30).takeWhile(s => math.pow(eta, s) <= r).last
      val expected = (sMax to 0 by -1).map(s => Seq(s, math.ceil((sMax + 1).toDouble / (s + 1) * math.pow(eta, s)).toInt, (max / math.pow(eta, s)).toInt))
      assert(brackets(min, max, eta) == expected, s"R = $max / $min, eta = $eta")
    }
  }
}
