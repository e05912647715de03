package fedspark.engine.privacy

import com.typesafe.config.ConfigFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.{TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.logic.Clip
import fedspark.engine.strategy.{RoundInput, Strategy}

/**
 * What each DP mode reports, computed here from the mechanism that ran: the noise the server adds, what the
 * clients report and their sensitivities, composed independently of the code under test; and the canary audit,
 * which must contradict an accountant that assumes more noise than was applied.
 */
class PrivacyGuaranteeSuite extends AnyFunSuite {
  import TestClients._

  private def settings(c: Double, rounds: Int, seed: Long = 4L) =
    new TrainSettings("logreg", rounds, c, 1, 10, 0.05, seed, "fedavg", 1, TrainSettings.LocalStep.AUTO)

  private def strategy(privacy: String, clients: Int, s: TrainSettings): Strategy[WeightedSum] =
    TestRuns.strategyWith(s, spec, Array.fill(clients)(20L), s"privacy { $privacy }").asInstanceOf[Strategy[WeightedSum]]

  private def noiseStd(next: Array[Float], from: Array[Float]): Double =
    math.sqrt(next.zip(from).map { case (a, b) => (a.toDouble - b) * (a.toDouble - b) }.sum / next.length)

  test("adaptive clipping: the update's noise and the centred count together are one Gaussian mechanism of multiplier z") {
    val (z, countNoise, clip, c, k) = (1.486, 1.0, 0.5, 0.2, 50)
    val privacy = s"mode = central, noise-multiplier = $z, clip = $clip, adaptive-clip { enabled = true, count-noise = $countNoise }"
    // what clients report, with updates far within and far above the clip: its largest magnitude is the count's sensitivity
    val reports = for (clipAt <- Seq("1e9", "1e-9"); client <- 0 until 3) yield {
      val s = strategy(s"mode = central, noise-multiplier = $z, clip = $clipAt, adaptive-clip { enabled = true, count-noise = $countNoise }",
        k, settings(c, 10))
      val input = new RoundInput(1, start, s.shared(1, start), null)
      s.clientUpdate().update(shard(client, 20, client), input, new MemoryState).named().get(Clip.BELOW_CLIP).values()(0).toDouble
    }
    assert(reports.take(3).forall(_ > 0) && reports.drop(3).forall(_ < 0), reports)
    val countSensitivity = reports.map(math.abs).max
    // the update's release: noise measured on a round with no client, sensitivity S cap / (q W) with cap 1, W = K
    val s = strategy(privacy, k, settings(c, 10))
    val updateSensitivity = clip / (c * k)
    val updateMultiplier = noiseStd(s.serverStep(1, start, s.newAggregate()), start) / updateSensitivity
    val combined = math.pow(math.pow(updateMultiplier, -2) + math.pow(countNoise / countSensitivity, -2), -0.5)
    assert(math.abs(combined - z) < 0.02 * z, s"the two releases compose to multiplier $combined; the accountant uses $z")
    assert(s.metrics().get("epsilon") == RdpAccountant.epsilonOf(c, z, 1, 1e-5))
  }

  test("adaptive clipping: the noised fraction below the clip is clamped to [0, 1]") {
    val s = strategy("mode = central, noise-multiplier = 0, clip = 1, adaptive-clip { enabled = true, count-noise = 50 }", 20, settings(0.5, 10))
    val fractions = (1 to 10).map { r => s.serverStep(r, start, s.newAggregate()); s.metrics().get("below_clip").doubleValue }
    assert(fractions.forall(f => f >= 0 && f <= 1), fractions)
    assert(fractions.exists(f => f == 0 || f == 1), s"noise 50 over q K = 10 clients should reach a bound: $fractions")
  }

  test("local DP: epsilon is the Gaussian mechanism of sensitivity 2S composed over the rounds the busiest client took part in") {
    val (z, clip, k, rounds) = (2.0, 0.1, 10, 10)
    val s = strategy(s"mode = local, noise-multiplier = $z, clip = $clip, local-max-rounds = 4", k, settings(0.5, rounds))
    val counts = Array.fill(k)(0)
    for (r <- 1 to rounds) {
      s.sample(r, k).foreach(client => counts(client) += 1)
      s.serverStep(r, start, s.newAggregate())
    }
    val most = counts.max
    assert(most >= 2, counts.toSeq)
    // RDP of the Gaussian mechanism: alpha Delta^2 / (2 sigma^2), Delta = 2S (replace-one), sigma = zS
    val orders = RdpAccountant.ORDERS
    val rdp = orders.map(a => most * a * (2 * clip) * (2 * clip) / (2 * (z * clip) * (z * clip)))
    val expected = RdpAccountant.epsilon(orders, rdp, 1e-5).epsilon()
    val reported = s.metrics().get("epsilon").doubleValue
    assert(math.abs(reported - expected) <= 1e-9 * expected, s"reported $reported, the mechanism spends $expected")
    // a target is met by the same computation
    val sized = strategy("mode = local, target-epsilon = 4, clip = 1, local-max-rounds = 20", k, settings(0.5, 40))
    val zSized = sized.metrics().get("noise_multiplier").doubleValue
    val spent = RdpAccountant.epsilon(orders, orders.map(a => 20 * a * 4 / (2 * zSized * zSized)), 1e-5).epsilon()
    assert(spent <= 4 && spent > 0.999 * 4, s"z $zSized spends $spent over 20 rounds")
  }

  test("central DP with noise refuses uniform sampling and the ratio estimator; clipping alone accepts them") {
    val uniform = intercept[IllegalArgumentException](strategy("mode = central, noise-multiplier = 1, sampling = uniform", 10, settings(0.5, 3)))
    assert(uniform.getMessage.contains("sampling = uniform") && uniform.getMessage.contains("Poisson"))
    val ratio = intercept[IllegalArgumentException](strategy("mode = central, target-epsilon = 2, estimator = ratio", 10, settings(0.5, 3)))
    assert(ratio.getMessage.contains("estimator = ratio"))
    strategy("mode = central, noise-multiplier = 0, sampling = uniform, estimator = ratio", 10, settings(0.5, 3))
    strategy("mode = local, noise-multiplier = 1, sampling = uniform", 10, settings(0.5, 3)) // local DP is not amplified by sampling
  }

  // ---- the canary audit ----

  private def privacyWith(canaries: Int, clients: Int, c: Double, rounds: Int, extra: String = "", seed: Long = 4L): DifferentialPrivacy = {
    val config = TestRuns.trainBlock(s"privacy { mode = central, target-epsilon = 4, clip = 1, audit.canaries = $canaries, $extra }")
      .getConfig("privacy")
    new DifferentialPrivacy(config, settings(c, rounds, seed), Array.fill(clients)(5L), 5000)
  }

  private def audited(dp: DifferentialPrivacy, rounds: Int): Map[String, Double] = {
    var global = new Array[Float](5000)
    for (r <- 1 to rounds) global = dp.privateModel(r, global, WeightedSum.empty())
    import scala.collection.JavaConverters._
    dp.metrics().asScala.map { case (k, v) => k -> v.doubleValue }.toMap
  }

  test("the canary audit stays at or below the accountant's epsilon on a correctly noised run") {
    for (seed <- Seq(4L, 5L)) {
      val m = audited(privacyWith(1000, 1000, 0.1, 50, seed = seed), 50)
      assert(math.abs(m("epsilon") - 4) < 1e-3)
      assert(m("epsilon_est") > 0.3 && m("epsilon_est") <= m("epsilon"), m)
      assert(m("epsilon_est_all") > 0.3 && m("epsilon_est_all") <= m("epsilon"), m)
    }
  }

  test("the canary audit exceeds the accountant's epsilon when the applied noise is secretly a third of what it assumes") {
    val dp = privacyWith(1000, 1000, 0.1, 50)
    dp.scaleAppliedNoiseForTest(1.0 / 3)
    val m = audited(dp, 50)
    assert(m("epsilon_est") > m("epsilon") && m("epsilon_est_all") > m("epsilon"), m)
  }

  test("the canary audit resumes from a checkpoint to the metrics and model of an uninterrupted run; refused under local DP") {
    val whole = privacyWith(20, 100, 0.2, 6)
    var global = new Array[Float](5000)
    for (r <- 1 to 6) global = whole.privateModel(r, global, WeightedSum.empty())
    val first = privacyWith(20, 100, 0.2, 6)
    var resumed = new Array[Float](5000)
    for (r <- 1 to 3) resumed = first.privateModel(r, resumed, WeightedSum.empty())
    val second = privacyWith(20, 100, 0.2, 6)
    second.restore(new java.util.HashMap(first.state()))
    for (r <- 4 to 6) resumed = second.privateModel(r, resumed, WeightedSum.empty())
    assert(resumed.sameElements(global))
    assert(second.metrics() == whole.metrics())
    val local = intercept[IllegalArgumentException](privacyWith(20, 100, 0.2, 6, "mode = local"))
    assert(local.getMessage.contains("audit.canaries"))
  }

  test("the pair of Gaussians: equal variances give the Gaussian mechanism's delta; the estimate is 0 for equal fits") {
    def normal(x: Double) = 0.5 * org.apache.commons.math3.special.Erf.erfc(-x / math.sqrt(2))
    for ((mu, epsilon) <- Seq((1.0, 0.5), (2.0, 3.0), (0.5, 0.1))) {
      val exact = normal(-epsilon / mu + mu / 2) - math.exp(epsilon) * normal(-epsilon / mu - mu / 2)
      val delta = GaussianPair.delta(0, 0.3, mu * 0.3, 0.3, epsilon)
      assert(math.abs(delta - exact) < 1e-12, s"mu $mu epsilon $epsilon: $delta against $exact")
    }
    assert(GaussianPair.epsilon(0.1, 1, 0.1, 1, 1e-5) == 0)
    assert(GaussianPair.epsilon(0, 1, 0, 1.5, 1e-5) > 0) // unequal spreads alone can be told apart
  }
}
