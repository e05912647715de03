package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The accountant against values published with Google's dp_accounting 0.4.4 (rdp_privacy_accountant_test.py) and
 * TensorFlow Privacy (compute_dp_sgd_privacy_test.py, the orders of RdpAccountant.ORDERS), each within 1%.
 */
class RdpAccountantSuite extends AnyFunSuite {

  private def within1Percent(actual: Double, expected: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= 0.01 * math.abs(expected), s"$what: $actual, published $expected")

  test("RDP of 50 steps at q = 0.01, z = 2.5 equals dp_accounting 0.4.4's at orders 1.5 to 100, infinite at infinity") {
    // rdp_privacy_accountant_test.py at 0.4.4 (its signed series; from 0.5.0 on the fractional order sums absolute
    // values, 6.7058e-4 at order 1.5, a looser bound than the moment integrated below gives)
    val orders = Array(1.5, 2.5, 5, 50, 100)
    val published = Array(6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02)
    val rdp = new RdpAccountant(orders).compose(0.01, 2.5, 50).spentRdp()
    orders.indices.foreach(i => within1Percent(rdp(i), published(i), s"order ${orders(i)}"))
    assert(RdpAccountant.rdp(0.01, 2.5, Array(Double.PositiveInfinity)).head.isPosInfinity)
  }

  test("DP-SGD epsilons and best orders equal TensorFlow Privacy's compute_dp_sgd_privacy") {
    // (n, batch, noise, epochs, delta) -> (epsilon, order); q = batch / n, steps = ceil(epochs n / batch)
    val published = Seq(
      (60000.0, 150.0, 1.3, 15.0, 1e-5, 0.7242234026109595, 19.0),
      (100000.0, 100.0, 1.0, 30.0, 1e-7, 1.4154988495444845, 13.0),
      (1e8, 1024.0, 0.1, 10.0, 1e-7, 5907982.31138195, 1.25))
    for ((n, batch, noise, epochs, delta, epsilon, order) <- published) {
      val steps = math.ceil(epochs * n / batch).toLong
      val spent = new RdpAccountant().compose(batch / n, noise, steps).epsilon(delta)
      within1Percent(spent.epsilon, epsilon, s"q ${batch / n} noise $noise steps $steps")
      assert(spent.order == order)
    }
  }

  test("the conversion equals dp_accounting's on pure DP and on the Gaussian mechanism at (1, 1e-6)") {
    val orders = (2 to 32).map(_.toDouble).toArray
    val pure = RdpAccountant.epsilon(orders, Array.fill(orders.length)(1.1), 1e-5)
    assert(math.abs(pure.epsilon - 1.32783806176) < 1e-9 && pure.order == 32)
    val fine = (1001 until 100000).map(_ * 0.001).toArray
    val gaussian = new RdpAccountant(fine).compose(1.0, 4.530877117, 1).epsilon(1e-6)
    within1Percent(gaussian.epsilon, 1.0, "Gaussian mechanism, z = 4.530877117")
  }

  test("epsilon grows with steps, falls with noise, is infinite without noise and 0 without sampling") {
    val bySteps = Seq(10L, 100L, 1000L).map(t => RdpAccountant.epsilonOf(0.01, 1.0, t, 1e-5))
    assert(bySteps == bySteps.sorted && bySteps.distinct.size == 3, bySteps)
    val byNoise = Seq(0.5, 1.0, 2.0).map(z => RdpAccountant.epsilonOf(0.01, z, 100, 1e-5))
    assert(byNoise == byNoise.sorted.reverse && byNoise.distinct.size == 3, byNoise)
    assert(RdpAccountant.epsilonOf(0.01, 0.0, 100, 1e-5).isPosInfinity)
    assert(RdpAccountant.epsilonOf(0.0, 1.0, 100, 1e-5) == 0.0)
  }

  test("the noise solved for a target epsilon spends that epsilon") {
    for ((target, q, steps) <- Seq((1.0, 0.01, 500L), (4.0, 0.1, 200L), (8.0, 0.05, 1000L))) {
      val noise = RdpAccountant.noiseFor(target, 1e-5, q, steps)
      val spent = RdpAccountant.epsilonOf(q, noise, steps, 1e-5)
      assert(spent <= target && spent > 0.999 * target, s"target $target: noise $noise spends $spent")
    }
    val error = intercept[IllegalArgumentException](RdpAccountant.noiseFor(0.0, 1e-5, 0.01, 10))
    assert(error.getMessage.contains("target epsilon"))
  }

  test("fractional orders are finite where the series converges slowly, and equal the moment integrated numerically") {
    // A_alpha = E over x ~ N(0, z^2) of ((1 - q) + q e^((2x - 1) / (2 z^2)))^alpha, by Simpson's rule
    def integrated(q: Double, z: Double, alpha: Double): Double = {
      val (from, to, n) = (-40 * z, 1 + 40 * z, 400000)
      val h = (to - from) / n
      def f(x: Double) = math.exp(-x * x / (2 * z * z)) / (z * math.sqrt(2 * math.Pi)) *
        math.pow(1 - q + q * math.exp((2 * x - 1) / (2 * z * z)), alpha)
      val sum = (0 to n).map { i => (if (i == 0 || i == n) 1 else if (i % 2 == 1) 4 else 2) * f(from + i * h) }.sum
      math.log(sum * h / 3) / (alpha - 1)
    }
    for ((q, z) <- Seq((0.1, 1.0), (0.01, 2.5), (0.2, 0.8)); order <- Seq(1.25, 1.5, 1.75, 2.5, 4.5)) {
      val rdp = RdpAccountant.rdp(q, z, Array(order)).head
      val expected = integrated(q, z, order)
      assert(!rdp.isInfinite && math.abs(rdp - expected) <= 1e-6 * expected, s"q $q z $z order $order: $rdp, integrated $expected")
    }
  }

  test("logErfc's asymptotic series from x = 20 equals log(erfc(x)) where erfc is still a double (up to 26.5), to 1e-12") {
    // the series' first omitted term, 10395 / (2x^2)^6, is 4e-14 at x = 20; commons-math's erfc there agrees with
    // erfc(x) = 2 / sqrt(pi) e^(-x^2) (the integral over u > 0 of e^(-2xu - u^2)) to 2e-13 in the log
    for (x <- Seq(20.0, 21.0, 23.0, 26.5)) {
      val expected = math.log(org.apache.commons.math3.special.Erf.erfc(x))
      assert(math.abs(RdpAccountant.logErfc(x) - expected) <= 1e-12, s"x $x: ${RdpAccountant.logErfc(x)}, log(erfc) $expected")
    }
  }

  test("the noise solved for a target is within 1e-6 of the smallest that meets it, for noise below 1 too (0.30 and 0.14 here)") {
    // the smallest by a bisection here to 1e-12 (epsilon falls as the noise grows)
    for ((target, q, steps) <- Seq((20.0, 1.0, 1L), (60.0, 1.0, 1L), (4.0, 0.5, 3L))) {
      var (low, high) = (1e-3, 10.0)
      while (high - low > 1e-12 * high) { val mid = (low + high) / 2; if (RdpAccountant.epsilonOf(q, mid, steps, 1e-5) > target) low = mid else high = mid }
      val noise = RdpAccountant.noiseFor(target, 1e-5, q, steps)
      assert(noise >= high * (1 - 1e-12) && noise <= high * (1 + 1e-6), s"target $target: noise $noise, smallest $high")
    }
  }

  test("orders at or below 1, and delta at 0 or 1, are refused; the accountant prints the RDP spent at each order") {
    intercept[IllegalArgumentException](new RdpAccountant(Array(1.0, 2.0)))
    val orders = Array(2.0, 4.0)
    for (delta <- Seq(0.0, 1.0)) intercept[IllegalArgumentException](RdpAccountant.epsilon(orders, Array(0.1, 0.2), delta))
    // without sampling one step spends alpha / (2 z^2): 1 and 2 at z = 1
    assert(new RdpAccountant(orders).compose(1.0, 1.0, 1).toString == "RdpAccountant[1.0, 2.0]")
  }
}
