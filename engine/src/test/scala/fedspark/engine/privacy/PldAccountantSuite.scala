package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The PLD accountant against values published in dp_accounting 0.4.4's own tests
 * (python/dp_accounting/dp_accounting/pld/pld_privacy_accountant_test.py at that release), against the Gaussian
 * mechanism's closed form, and against the RDP accountant on the same mechanisms.
 */
class PldAccountantSuite extends AnyFunSuite {

  private def within1Percent(actual: Double, expected: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= 0.01 * math.abs(expected), s"$what: $actual, published $expected")

  private def normal(x: Double) = 0.5 * org.apache.commons.math3.special.Erf.erfc(-x / math.sqrt(2))

  /** The Gaussian mechanism's hockey-stick divergence, N(1, z^2) against N(0, z^2), at epsilon. */
  private def gaussian(z: Double, epsilon: Double) = normal(1 / (2 * z) - epsilon * z) - math.exp(epsilon) * normal(-1 / (2 * z) - epsilon * z)

  private def assertClose(actual: Double, expected: Double, relative: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= relative * math.abs(expected), s"$what: $actual, closed form $expected")

  test("dp_accounting 0.4.4 test_gaussian_basic: z = sqrt(3) composed 1 + 2 times, delta(1) = 0.126936") {
    val pld = new PldAccountant().compose(1.0, math.sqrt(3), 1).compose(1.0, math.sqrt(3), 2)
    within1Percent(pld.delta(1.0), 0.126936, "delta(1)")
    within1Percent(pld.epsilon(0.126936), 1.0, "epsilon(0.126936)")
  }

  test("dp_accounting 0.4.4 test_poisson_subsampled_gaussian: q = 0.2, z = 0.5 composed 1 + 2 times, delta(1) = 0.15594") {
    val pld = new PldAccountant().compose(0.2, 0.5, 1).compose(0.2, 0.5, 2)
    within1Percent(pld.delta(1.0), 0.15594, "delta(1)")
    within1Percent(pld.epsilon(0.15594), 1.0, "epsilon(0.15594)")
  }

  test("without sampling, T steps are the Gaussian mechanism at z / sqrt(T): delta at least its closed form and within 1% of it") {
    def normal(x: Double) = 0.5 * org.apache.commons.math3.special.Erf.erfc(-x / math.sqrt(2))
    for ((z, steps, epsilon) <- Seq((2.0, 10L, 1.0), (5.0, 100L, 2.0), (0.8, 3L, 3.0))) {
      val s = z / math.sqrt(steps.toDouble)
      val exact = normal(1 / (2 * s) - epsilon * s) - math.exp(epsilon) * normal(-1 / (2 * s) - epsilon * s)
      val delta = new PldAccountant().compose(1.0, z, steps).delta(epsilon)
      assert(delta >= exact * (1 - 1e-9) && delta <= 1.01 * exact, s"z $z, $steps steps, epsilon $epsilon: $delta against $exact")
    }
  }

  test("PLD epsilon is never above RDP epsilon on the same mechanism, and is below it where the conversion is loose") {
    val settings = Seq((0.1, 1.48637, 100L, 1e-5), (0.0025, 1.3, 6000L, 1e-5), (0.01, 0.8, 500L, 1e-6), (1.0, 4.0, 20L, 1e-5),
      (0.2, 0.5, 3L, 1e-3))
    for ((q, z, steps, delta) <- settings) {
      val pld = PldAccountant.epsilonOf(q, z, steps, delta)
      val rdp = RdpAccountant.epsilonOf(q, z, steps, delta)
      assert(pld <= rdp && pld > 0.5 * rdp, s"q $q z $z T $steps: PLD $pld, RDP $rdp")
    }
    assert(PldAccountant.epsilonOf(0.1, 1.48637, 100, 1e-5) < 0.95 * RdpAccountant.epsilonOf(0.1, 1.48637, 100, 1e-5))
  }

  test("the noise solved for a target under PLD spends that target, and is below RDP's") {
    val z = PldAccountant.noiseFor(4.0, 1e-5, 0.1, 100)
    val spent = PldAccountant.epsilonOf(0.1, z, 100, 1e-5)
    assert(spent <= 4.0 && spent > 0.995 * 4.0, s"noise $z spends $spent")
    assert(z < RdpAccountant.noiseFor(4.0, 1e-5, 0.1, 100))
  }

  test("no noise is infinite, no sampling spends nothing, and delta falls as epsilon grows") {
    assert(new PldAccountant().compose(0.1, 0.0, 5).delta(1.0) == 1.0)
    assert(PldAccountant.epsilonOf(0.1, 0.0, 5, 1e-5).isPosInfinity)
    assert(PldAccountant.epsilonOf(0.0, 1.0, 5, 1e-5) == 0.0)
    val pld = new PldAccountant().compose(0.05, 1.0, 50)
    val deltas = Seq(0.0, 0.5, 1.0, 2.0, 4.0).map(pld.delta)
    assert(deltas == deltas.sorted.reverse && deltas.distinct.size == 5, deltas)
  }

  test("the Gaussian mechanism with little noise (z = 0.25, q = 1): delta equals the closed form, losses from -41 to 41") {
    // the lowest loss, (2 (-8.3 z) - 1) / (2 z^2), once came out as log1p(expm1(-41)) = log1p(-1) = -infinity (an
    // ArithmeticException), and the added client's delta above epsilon = 20 as rounding noise (e^-eps - 1 + 1), which the
    // PMF's second differences, cut off below 0, turned into 0.9% of spurious mass at losses 20 to 37
    val pld = new PldAccountant().compose(1.0, 0.25, 1)
    for (epsilon <- Seq(-5.0, 1.0, 5.0, 10.0, 20.0)) assertClose(pld.delta(epsilon), gaussian(0.25, epsilon), 1e-9, s"epsilon $epsilon")
  }
}
