package fedspark.engine.privacy

import java.util.Locale

import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.{TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.logic.Clip
import fedspark.engine.strategy.ClientResult

/**
 * DifferentialPrivacy's server side driven directly, without a strategy: the settings it refuses (each message
 * naming the setting and the value given), adaptive clipping's update against Andrew et al. 2021 worked by hand,
 * the sampling probability and weight unit the noise and the canaries are scaled by, the budget's stop at its
 * boundary, local DP's participation cap and its checkpoint.
 */
class DifferentialPrivacySuite extends AnyFunSuite {

  private def settings(c: Double, rounds: Int = 10, seed: Long = 4L) =
    new TrainSettings("logreg", rounds, c, 1, 10, 0.05, seed, "fedavg", 1, TrainSettings.LocalStep.AUTO)

  private def privacy(options: String, sizes: Array[Long], s: TrainSettings, parameters: Int = 0): DifferentialPrivacy =
    new DifferentialPrivacy(TestRuns.trainBlock(s"privacy { $options }").getConfig("privacy"), s, sizes, parameters)

  private def refused(options: String, c: Double = 0.5): String =
    intercept[IllegalArgumentException](privacy(options, Array.fill(10)(20L), settings(c))).getMessage

  /** A client's result as the aggregate receives it: its (clipped) change, weight and below-clip report. */
  private def client(k: Int, weight: Double, change: Array[Float], report: Float = 0.5f): ClientResult =
    new ClientResult(k, 20, weight, change, java.util.Map.of(Clip.BELOW_CLIP, new ClientResult.Weighted(1, Array(report))), 0, 0)

  private def sumOf(results: ClientResult*): WeightedSum = results.foldLeft(WeightedSum.empty())(_ add _)

  test("impossible settings are refused, each naming the setting and the value given") {
    assert(refused("mode = central, target-mode = halt") == "train.privacy.target-mode must be size or stop, got 'halt'")
    assert(refused("mode = central, sampling = stratified") == "train.privacy.sampling must be poisson or uniform, got 'stratified'")
    assert(refused("mode = central, estimator = median") == "train.privacy.estimator must be fixed or ratio, got 'median'")
    assert(refused("mode = central, accountant = moments") == "train.privacy.accountant must be rdp or pld, got 'moments'")
    assert(refused("mode = central, clip = 0") == "train.privacy.clip must be positive, got 0.0")
    assert(refused("mode = local, clip = -0.5") == "train.privacy.clip must be positive, got -0.5")
    assert(refused("mode = central, delta = 0") == "train.privacy.delta must be in (0, 1), got 0.0")
    assert(refused("mode = central, delta = 1") == "train.privacy.delta must be in (0, 1), got 1.0")
    assert(refused("mode = central, target-epsilon = -1") == "train.privacy.target-epsilon cannot be negative, got -1.0")
    assert(refused("mode = central, weight-cap = 0.5") == "train.privacy.weight-cap must be at least 1 or inf, got 0.5")
    assert(refused("mode = central", c = 0) == "train.privacy needs a sampling probability q = C in (0, 1], got 0.0")
    assert(refused("mode = central, noise-multiplier = -1") == "train.privacy.noise-multiplier must be finite and not negative, got -1.0")
    val adaptiveSettings = "train.privacy.adaptive-clip needs target-quantile in (0, 1), learning-rate > 0 and count-noise > 0"
    for (bad <- Seq("target-quantile = 0", "target-quantile = 1", "learning-rate = 0", "count-noise = 0")) {
      assert(refused(s"mode = central, noise-multiplier = 0, adaptive-clip { enabled = true, $bad }") == adaptiveSettings, bad)
    }
    assert(refused("mode = local, adaptive-clip.enabled = true") == "adaptive clipping is a central-DP mechanism (train.privacy.mode = central)")
  }

  test("adaptive clipping's noise split: z below 2 count-noise is refused at and above it, and the update's multiplier is (z^-2 - (2 count-noise)^-2)^-1/2") {
    // Andrew et al. 2021 (and TensorFlow Federated's adaptive_clip_noise_params): the count's std sigma_b over its
    // sensitivity 1/2 is a multiplier 2 sigma_b, so z^-2 = z_update^-2 + (2 sigma_b)^-2 needs z < 2 sigma_b
    val sizes = Array.fill(10)(20L)
    def adaptive(z: Double, countNoise: Double) =
      privacy(s"mode = central, noise-multiplier = $z, adaptive-clip { enabled = true, count-noise = $countNoise }", sizes, settings(0.5))
    val below = adaptive(3.9, 2.0)
    val byHand = 1 / math.sqrt(1 / (3.9 * 3.9) - 1 / (4.0 * 4.0))
    assert(math.abs(below.updateNoiseMultiplier() - byHand) < 1e-12 * byHand, s"${below.updateNoiseMultiplier()} against $byHand")
    assert(below.noiseMultiplier() == 3.9) // what the accountant composes
    assert(adaptive(0, 2.0).updateNoiseMultiplier() == 0)
    for (z <- Seq(4.0, 5.0)) {
      val message = intercept[IllegalArgumentException](adaptive(z, 2.0)).getMessage
      assert(message == s"adaptive clipping with count-noise 2.0 needs noise-multiplier below 4.0 (2 x count-noise), got $z: " +
        "raise count-noise or lower the noise multiplier", z)
    }
  }

  test("adaptive clipping with its noise scaled to 0: b = (sum of +-1/2 reports) / (q K) + 1/2 and C <- C exp(-eta (b - gamma)), clients or none, either estimator") {
    // K = 10 clients, q = 0.5, C0 = 2, gamma = 0.3, eta = 0.4. Round 1: two reports within (+1/2), one above (-1/2):
    // b = (1/2) / 5 + 1/2 = 0.6. Round 2, no client: b = 0 / 5 + 1/2 = 0.5.
    val rounds = Seq((0.6, 2.0 * math.exp(-0.4 * (0.6 - 0.3))), (0.5, 2.0 * math.exp(-0.4 * (0.6 - 0.3)) * math.exp(-0.4 * (0.5 - 0.3))))
    for (estimator <- Seq("fixed", "ratio")) {
      val dp = privacy(s"mode = central, noise-multiplier = 0, clip = 2, estimator = $estimator, " +
        "adaptive-clip { enabled = true, target-quantile = 0.3, learning-rate = 0.4, count-noise = 1 }", Array.fill(10)(20L), settings(0.5))
      dp.scaleAppliedNoiseForTest(0)
      assert(dp.adaptiveClip())
      val global = Array(0.25f, -1f, 2f)
      val aggregates = Seq(sumOf(client(1, 1, Array(1f, 0f, 0f)), client(4, 1, Array(0f, 1f, 0f)), client(7, 1, Array(0f, 0f, 1f), -0.5f)),
        WeightedSum.empty())
      for (((below, clip), round) <- rounds.zip(Seq(1, 2))) {
        dp.privateModel(round, global, aggregates(round - 1))
        val metrics = dp.metrics()
        assert(math.abs(metrics.get("below_clip") - below) < 1e-12, s"$estimator round $round: ${metrics.get("below_clip")}")
        assert(math.abs(metrics.get("clip") - clip) < 1e-6 * clip, s"$estimator round $round: clip ${metrics.get("clip")}, by hand $clip")
        assert(math.abs(dp.shared().get(Clip.SHARED_CLIP)(0) - clip) < 1e-6 * clip) // what the next round's clients clip to
        assert(dp.state().get("dp_rounds")(0) == round) // each round is accounted, the ratio estimator's empty one too
        assert(metrics.get("epsilon").doubleValue.isPosInfinity) // z = 0: clipping alone
      }
    }
    val fixed = privacy("mode = central, noise-multiplier = 1", Array.fill(10)(20L), settings(0.5))
    val off = privacy("mode = off, adaptive-clip.enabled = true", Array.fill(10)(20L), settings(0.5))
    assert(!fixed.adaptiveClip() && !off.adaptiveClip()) // off sends no count whatever the block says
  }

  test("q is C under Poisson sampling and the sampled share max(1, round(C K)) / K under uniform: the fixed denominator is q W") {
    // K = 10 clients of weight 1 (cap 1): W = 10. C = 0.25: Poisson q = 0.25; uniform samples round(2.5) = 3, q = 0.3.
    // One client sends the change v with weight 1: the next model is global + v / (q W), noise 0.
    val change = Array(1f, -2f, 0.5f, 4f)
    val global = Array(1f, 1f, 1f, 1f)
    for ((sampling, q) <- Seq(("poisson", 0.25), ("uniform", 0.3))) {
      val dp = privacy(s"mode = central, noise-multiplier = 0, sampling = $sampling", Array.fill(10)(20L), settings(0.25))
      val next = dp.privateModel(1, global, sumOf(client(3, 1, change)))
      val expected = global.indices.map(j => global(j) + change(j) / (q * 10))
      assert(next.indices.forall(j => math.abs(next(j) - expected(j)) < 1e-6), s"$sampling: ${next.toSeq} against $expected")
    }
  }

  test("central DP's noise std is z S u / (q W) with the weight unit u the largest client when weights are uncapped") {
    // K = 50 clients of 1..50 examples, weight-cap = inf: u = 50, W = 1275, q = 0.2; z = 1.5, S = 0.4
    val sizes = (1L to 50L).toArray
    val dp = privacy("mode = central, noise-multiplier = 1.5, clip = 0.4, weight-cap = inf", sizes, settings(0.2))
    val global = new Array[Float](20000)
    val noise = dp.privateModel(1, global, WeightedSum.empty()).map(_.toDouble)
    val std = math.sqrt(noise.map(v => v * v).sum / noise.length)
    val expected = 1.5 * 0.4 * 50 / (0.2 * 1275)
    assert(math.abs(std - expected) < 0.03 * expected, s"noise std $std, expected $expected")
  }

  test("a canary adds the largest update one client may send, clip times the weight unit, over q W as a client's does") {
    // K = 4 clients of 10, 20, 30, 40 examples, weight-cap = inf: u = 40, W = 100; C = 1: q = 1, every canary inserted;
    // noise 0: the model moves by S u (c_1 + c_2) / (q W), c_j the audit's unit directions
    val d = 64
    val dp = privacy("mode = central, noise-multiplier = 0, clip = 0.5, weight-cap = inf, audit.canaries = 2", Array(10L, 20L, 30L, 40L),
      settings(1.0, seed = 9L), parameters = d)
    val next = dp.privateModel(1, new Array[Float](d), WeightedSum.empty())
    val directions = new CanaryAudit(2, d, 1.0, 9L) // the run's seed: the same directions
    directions.observe(new Array[Float](d))
    val both = new Array[Double](d)
    directions.insert(1, both, 1.0)
    assert(math.sqrt(both.map(v => v * v).sum) > 0.5) // two unit vectors: |c_1 + c_2| is near sqrt(2)
    val expected = both.map(v => 0.5 * 40 * v / (1.0 * 100))
    assert(next.indices.forall(j => math.abs(next(j) - expected(j)) < 1e-6), s"${next.take(4).toSeq} against ${expected.take(4).toSeq}")
  }

  test("target-mode = stop runs the round that reaches the target exactly and refuses the next; no target, size mode and local DP never refuse") {
    val target = RdpAccountant.epsilonOf(0.5, 2.0, 3, 1e-5) // epsilon after 3 rounds: the budget is spent exactly then
    val dp = privacy(s"mode = central, noise-multiplier = 2.0, target-epsilon = $target, target-mode = stop", Array.fill(10)(20L), settings(0.5, 50))
    for (round <- 1 to 3) {
      assert(dp.refusal(round) == null, s"round $round")
      dp.privateModel(round, new Array[Float](4), WeightedSum.empty())
    }
    val next = RdpAccountant.epsilonOf(0.5, 2.0, 4, 1e-5)
    assert(dp.refusal(4) == String.format(Locale.ROOT, "the privacy budget: round 4 would bring epsilon to %.4g, above " +
      "train.privacy.target-epsilon = %s (delta 1.0E-5)", Double.box(next), target.toString))
    for (options <- Seq("mode = central, noise-multiplier = 2.0, target-epsilon = 0, target-mode = stop",
      "mode = central, noise-multiplier = 2.0, target-epsilon = 1e-3, target-mode = size",
      "mode = local, noise-multiplier = 2.0, target-epsilon = 1e-3, target-mode = stop")) {
      assert(privacy(options, Array.fill(10)(20L), settings(0.5, 50)).refusal(1) == null, options)
    }
  }

  test("accountant = pld: the epsilon reported after a round is the PLD accountant's at q and z") {
    val dp = privacy("mode = central, noise-multiplier = 1.2, accountant = pld", Array.fill(10)(20L), settings(0.1))
    assert(dp.mode() == DifferentialPrivacy.Mode.CENTRAL && dp.noiseMultiplier() == 1.2)
    dp.privateModel(1, new Array[Float](4), WeightedSum.empty())
    val expected = PldAccountant.epsilonOf(0.1, 1.2, 1, 1e-5)
    assert(dp.metrics().get("epsilon") == expected)
    assert(expected != RdpAccountant.epsilonOf(0.1, 1.2, 1, 1e-5)) // the two accountants tell apart
  }

  /** Rounds from..to of local DP's sampling; every client's count is kept by the caller. */
  private def sampleRounds(dp: DifferentialPrivacy, rounds: Range, counts: Array[Int]): Seq[Seq[Int]] =
    rounds.map { r => val sampled = dp.sample(r).toSeq; sampled.foreach(k => counts(k) += 1); sampled }

  test("local DP: local-max-rounds = 0 caps each client at 2 q T rounded up; a negative count is refused") {
    // K = 400, C = 0.25, T = 10: the cap is 2 x 0.25 x 10 = 5. Uncapped (local-max-rounds = 10), some client is drawn more often.
    val sizes = Array.fill(400)(20L)
    val auto = privacy("mode = local, noise-multiplier = 1, local-max-rounds = 0", sizes, settings(0.25, 10))
    assert(auto.mode() == DifferentialPrivacy.Mode.LOCAL)
    val capped = new Array[Int](400)
    sampleRounds(auto, 1 to 10, capped)
    val free = new Array[Int](400)
    sampleRounds(privacy("mode = local, noise-multiplier = 1, local-max-rounds = 10", sizes, settings(0.25, 10)), 1 to 10, free)
    assert(free.max > 5 && capped.max == 5, s"uncapped most ${free.max}, capped most ${capped.max}")
    assert(refused("mode = local, local-max-rounds = -1") == "train.privacy.local-max-rounds must be at least 1, or 0 for 2 q T rounded up, got -1")
  }

  test("local DP: every client's participations survive a checkpoint, so a resumed run keeps the cap local-max-rounds") {
    val sizes = Array.fill(10)(20L)
    def run() = privacy("mode = local, noise-multiplier = 1, local-max-rounds = 2", sizes, settings(0.5, 10))
    val whole = run()
    val uninterrupted = sampleRounds(whole, 1 to 10, new Array[Int](10))
    val first = run()
    val counts = new Array[Int](10)
    sampleRounds(first, 1 to 4, counts)
    val state = first.state()
    assert(state.get("dp_participations").toSeq == counts.map(_.toFloat).toSeq)
    assert(counts.contains(2), counts.toSeq) // some client has spent its budget before the restart
    val second = run()
    second.restore(new java.util.HashMap(state))
    val resumed = sampleRounds(second, 5 to 10, counts)
    assert(resumed == uninterrupted.drop(4))
    assert(counts.max <= 2, counts.toSeq)
  }
}
