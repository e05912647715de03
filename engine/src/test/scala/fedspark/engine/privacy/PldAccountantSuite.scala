package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The PLD accountant against values published in dp_accounting 0.4.4's own tests
 * (python/dp_accounting/dp_accounting/pld/pld_privacy_accountant_test.py at that release), against the Gaussian
 * mechanism's closed form, against the closed form of one step of the Poisson-sampled Gaussian mechanism, and against
 * the RDP accountant on the same mechanisms.
 */
class PldAccountantSuite extends AnyFunSuite {

  private def within1Percent(actual: Double, expected: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= 0.01 * math.abs(expected), s"$what: $actual, published $expected")

  private def normal(x: Double) = 0.5 * org.apache.commons.math3.special.Erf.erfc(-x / math.sqrt(2))

  /** The Gaussian mechanism's hockey-stick divergence, N(1, z^2) against N(0, z^2), at epsilon. */
  private def gaussian(z: Double, epsilon: Double) = normal(1 / (2 * z) - epsilon * z) - math.exp(epsilon) * normal(-1 / (2 * z) - epsilon * z)

  /**
   * One step of the Poisson-sampled Gaussian mechanism in closed form: a client removed, P = (1 - q) N(0, z^2) + q N(1, z^2)
   * against Q = N(0, z^2), has delta q gaussian(z, log(1 + (e^eps - 1) / q)) (1 - e^eps where e^eps <= 1 - q: all of
   * P then); a client added is the reversed pair, whose delta at eps is 1 - e^eps + e^eps delta_removed(-eps) (S against
   * its complement). The accountant reports the larger.
   */
  private def removed(q: Double, z: Double, epsilon: Double) =
    if (math.expm1(epsilon) / q <= -1) -math.expm1(epsilon) else q * gaussian(z, math.log1p(math.expm1(epsilon) / q))
  private def added(q: Double, z: Double, epsilon: Double) = -math.expm1(epsilon) + math.exp(epsilon) * removed(q, z, -epsilon)
  private def oneStep(q: Double, z: Double, epsilon: Double) = math.max(removed(q, z, epsilon), added(q, z, epsilon))

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

  test("one step's delta equals the closed form at grid points of epsilon, below 0 too, where the added client's pair dominates") {
    // above 0 the removal pair's delta is the larger (equal at 0: total variation is symmetric), below 0 the addition
    // pair's; q = 1 - e^-0.1 puts the addition pair's largest loss, -log(1 - q) = 0.1, exactly on the grid (1000 h)
    for ((q, z) <- Seq((0.5, 0.5), (0.2, 1.0), (1.0, 0.8), (1 - math.exp(-0.1), 1.0))) {
      val pld = new PldAccountant().compose(q, z, 1)
      for (epsilon <- Seq(-3.5, -1.0, -0.5, 0.0, 0.3, 1.0, 2.0))
        assertClose(pld.delta(epsilon), oneStep(q, z, epsilon), 1e-9, s"q $q, z $z, epsilon $epsilon")
    }
  }

  test("the Gaussian mechanism with little noise (z = 0.25, q = 1): delta equals the closed form, losses from -41 to 41") {
    // the lowest loss, (2 (-8.3 z) - 1) / (2 z^2), once came out as log1p(expm1(-41)) = log1p(-1) = -infinity (an
    // ArithmeticException), and the added client's delta above epsilon = 20 as rounding noise (e^-eps - 1 + 1), which the
    // PMF's second differences, cut off below 0, turned into 0.9% of spurious mass at losses 20 to 37
    val pld = new PldAccountant().compose(1.0, 0.25, 1)
    for (epsilon <- Seq(-5.0, 1.0, 5.0, 10.0, 20.0)) assertClose(pld.delta(epsilon), gaussian(0.25, epsilon), 1e-9, s"epsilon $epsilon")
  }

  test("losses far above 0 (25 steps at z = 0.25, q = 1: the Gaussian mechanism at z = 0.05) and all within a grid step of 0 (z = 1e4)") {
    // the composed loss is N(200, 20^2): below 40 lies less than the 1e-15 each composition drops, so the kept grid starts
    // near 40, well above 0 (every grid seen before started below 0)
    val far = new PldAccountant(0.01).compose(1.0, 0.25, 25)
    for (epsilon <- Seq(100.0, 150.0, 200.0, 250.0)) {
      val exact = gaussian(0.05, epsilon)
      assert(far.delta(epsilon) >= exact && far.delta(epsilon) <= exact * (1 + 1e-3), s"epsilon $epsilon: ${far.delta(epsilon)}, closed form $exact")
    }
    // delta(0) is the total variation distance, 2 Phi(1 / (2z)) - 1
    assertClose(new PldAccountant().compose(1.0, 1e4, 1).delta(0), 2 * normal(1 / 2e4) - 1, 1e-9, "z 1e4, epsilon 0")
  }

  test("epsilon inverts delta to 1e-9 relative, for a small epsilon too, and is finite at delta = the mass of infinite loss") {
    val pld = new PldAccountant().compose(0.01, 2.0, 10)
    for (target <- Seq(pld.delta(0.02), pld.delta(0.5), 1e-5)) {
      val epsilon = pld.epsilon(target)
      assert(pld.delta(epsilon) <= target && pld.delta(epsilon * (1 - 2e-9)) > target, s"delta $target: epsilon $epsilon")
    }
    // the mass at infinity (the tails cut at 8.3 sd and truncated) is all of delta above the largest loss on the grid
    val composed = new PldAccountant().compose(0.2, 1.0, 3)
    val infinite = composed.delta(1e4)
    assert(infinite > 0 && infinite < 1e-14)
    val epsilon = composed.epsilon(infinite)
    assert(epsilon < 20 && composed.delta(epsilon) <= infinite && composed.delta(epsilon * (1 - 1e-6)) > infinite, s"epsilon $epsilon")
  }

  test("the noise for one step at q = 0.002 is the closed form's, under half of RDP's: the search goes below RDP's half") {
    val (target, delta, q) = (0.2, 1e-5, 0.002)
    var (low, high) = (0.1, 10.0) // the closed form's smallest noise by bisection: delta falls as the noise grows
    while (high - low > 1e-9 * high) { val mid = (low + high) / 2; if (removed(q, mid, target) > delta) low = mid else high = mid }
    val noise = PldAccountant.noiseFor(target, delta, q, 1)
    assert(noise >= high && noise <= high * (1 + 2e-4), s"noise $noise, closed form $high")
    assert(noise < RdpAccountant.noiseFor(target, delta, q, 1) / 2)
  }

  test("the interval and delta are refused at their bounds 0 and 1; no steps spend nothing") {
    for (interval <- Seq(0.0, 1.0)) intercept[IllegalArgumentException](new PldAccountant(interval))
    val pld = new PldAccountant().compose(0.1, 1.0, 10)
    for (delta <- Seq(0.0, 1.0)) intercept[IllegalArgumentException](pld.epsilon(delta))
    assert(new PldAccountant().compose(0.1, 1.0, 0).delta(0) == 0 && PldAccountant.epsilonOf(0.1, 1.0, 0, 1e-5) == 0)
  }
}
