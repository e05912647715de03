package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The pair of Gaussians against the hockey-stick divergence integrated numerically here: sup over S of
 * P(S) - e^eps Q(S) is the integral of (p - e^eps q)^+, taken over the region where p > e^eps q, whose ends are found
 * by bisection on log p - log q - eps (the code under test solves a quadratic for them instead).
 */
class GaussianPairSuite extends AnyFunSuite {

  private def logDensity(x: Double, mean: Double, sd: Double) =
    -0.5 * math.pow((x - mean) / sd, 2) - math.log(sd * math.sqrt(2 * math.Pi))

  /**
   * The integral of (p - e^eps q)^+, p and q the densities of N(meanP, sdP^2) and N(meanQ, sdQ^2), over meanP +- 14 sdP
   * (all of P's mass but 1e-44): the region's ends from a scan of 20,000 points refined by bisection, then Simpson's
   * rule on each piece, where the integrand is smooth. In log space, so that e^eps q neither overflows nor underflows.
   */
  private def integrated(meanP: Double, sdP: Double, meanQ: Double, sdQ: Double, epsilon: Double): Double = {
    def excess(x: Double) = logDensity(x, meanP, sdP) - logDensity(x, meanQ, sdQ) - epsilon
    def f(x: Double) = {
      val logP = logDensity(x, meanP, sdP)
      val logScaledQ = epsilon + logDensity(x, meanQ, sdQ)
      if (logP > logScaledQ) -math.exp(logP) * math.expm1(logScaledQ - logP) else 0.0
    }
    def crossing(inside: Double, outside: Double): Double = {
      var (in, out) = (inside, outside)
      for (_ <- 1 to 100) { val mid = (in + out) / 2; if (excess(mid) > 0) in = mid else out = mid }
      in
    }
    def simpson(from: Double, to: Double, n: Int = 100000): Double = {
      val h = (to - from) / n
      (f(from) + f(to) + (1 until n).map(i => (if (i % 2 == 1) 4 else 2) * f(from + i * h)).sum) * h / 3
    }
    val grid = (0 to 20000).map(i => meanP - 14 * sdP + i * 28 * sdP / 20000)
    var total = 0.0
    var start: Option[Double] = if (excess(grid.head) > 0) Some(grid.head) else None
    for (Seq(x, y) <- grid.sliding(2)) {
      (excess(x) > 0, excess(y) > 0) match {
        case (false, true) => start = Some(crossing(y, x))
        case (true, false) => total += simpson(start.get, crossing(x, y)); start = None
        case _ =>
      }
    }
    start.foreach(s => total += simpson(s, grid.last))
    total
  }

  private def assertClose(actual: Double, expected: Double, relative: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= relative * math.abs(expected), s"$what: $actual, integrated $expected")

  test("each region of the optimal test (a half-line, outside two roots, between them) in both orders equals the integral") {
    // (mean, sd) pairs: equal spreads give a half-line, unequal ones a quadratic in x; hockeyStick(P, Q) then (Q, P)
    val pairs = Seq(((0.0, 1.0), (1.5, 1.0)), ((0.3, 1.0), (-0.9, 1.0)), ((2.0, 0.7), (1.0, 1.0)), ((-1.0, 1.3), (0.5, 0.9)),
      ((0.0, 0.6), (1.5, 1.0)))
    for (((m0, s0), (m1, s1)) <- pairs; (mP, sP, mQ, sQ) <- Seq((m0, s0, m1, s1), (m1, s1, m0, s0)); epsilon <- Seq(0.0, 0.5, 1.0)) {
      val expected = integrated(mP, sP, mQ, sQ, epsilon)
      assert(expected > 1e-4, s"the case should have a region: P = N($mP, $sP^2), Q = N($mQ, $sQ^2), epsilon $epsilon")
      assertClose(GaussianPair.hockeyStick(mP, sP, mQ, sQ, epsilon), expected, 1e-9, s"P = N($mP, $sP^2), Q = N($mQ, $sQ^2), epsilon $epsilon")
    }
  }

  test("a region many standard deviations into both tails is measured without cancellation") {
    // P = N(10, 0.5^2) against Q = N(0, 1): log p / q peaks at 67.4 (x = 13.3), so at epsilon 67 S is a short interval
    // 6 sd above P's mean and 13 above Q's, where P(S) and Q(S) must be differences of two tail masses (two masses near 1
    // would cancel); the same pair moved down by 20, and its mirror image (S below both means)
    for ((shift, sign) <- Seq((0.0, 1.0), (-20.0, 1.0), (0.0, -1.0)); epsilon <- Seq(67.0, 67.3)) {
      val (mP, mQ) = (sign * 10 + shift, shift)
      val expected = integrated(mP, 0.5, mQ, 1.0, epsilon)
      assert(expected > 0 && expected < 1e-9, s"the case should be deep in the tails: $expected")
      assertClose(GaussianPair.hockeyStick(mP, 0.5, mQ, 1.0, epsilon), expected, 1e-8, s"P = N($mP, 0.25), Q = N($mQ, 1), epsilon $epsilon")
    }
  }

  test("below epsilon = 0: where log p / q exceeds epsilon everywhere, the divergence is all of P less e^eps Q, 1 - e^eps") {
    // equal fits: log p / q = 0; P wider than Q: log p / q >= log(sdQ / sdP) = log(0.9) > -1
    for ((mP, sP, mQ, sQ, epsilon) <- Seq((0.0, 1.0, 0.0, 1.0, -0.5), (0.0, 1.0, 0.0, 0.9, -1.0), (0.4, 1.2, 0.4, 1.2, -2.0))) {
      assertClose(GaussianPair.hockeyStick(mP, sP, mQ, sQ, epsilon), -math.expm1(epsilon), 1e-12, s"P = N($mP, $sP^2), Q = N($mQ, $sQ^2), epsilon $epsilon")
      assertClose(integrated(mP, sP, mQ, sQ, epsilon), -math.expm1(epsilon), 1e-9, "the integral itself")
    }
    assert(GaussianPair.delta(0.4, 1.2, 0.4, 1.2, 0.5) == 0 && GaussianPair.delta(0.4, 1.2, 0.4, 1.2, 0) == 0)
  }

  test("a fit of zero spread is told apart from any other with certainty (epsilon infinite), from an identical one not at all") {
    assert(GaussianPair.epsilon(0, 0, 1, 1, 1e-5).isPosInfinity)
    assert(GaussianPair.epsilon(0, 1, 1, 0, 1e-5).isPosInfinity)
    assert(GaussianPair.epsilon(0, 0, 0, 1, 0.5).isPosInfinity) // a point mass against a density of that mean
    assert(GaussianPair.epsilon(2, 0, 2, 0, 1e-5) == 0)
  }

  test("epsilon is the smallest with delta(epsilon) <= delta: 0 at delta(0) itself, and within 1e-9 of the crossing") {
    val (m0, s0, m1, s1) = (0.0, 1.0, 1.2, 1.0)
    val atZero = GaussianPair.delta(m0, s0, m1, s1, 0)
    assert(GaussianPair.epsilon(m0, s0, m1, s1, atZero) == 0)
    for (delta <- Seq(1e-2, 1e-5, 1e-9)) {
      val epsilon = GaussianPair.epsilon(m0, s0, m1, s1, delta)
      val (above, below) = (integrated(m1, s1, m0, s0, epsilon), integrated(m1, s1, m0, s0, epsilon * (1 - 2e-9)))
      assert(above <= delta * (1 + 1e-9) && below > delta, s"delta $delta: epsilon $epsilon, integrated $above at it, $below just below")
    }
  }

  test("fits far apart: delta and epsilon past 709.78, where e^eps overflows, still follow the integral; above 1e4 epsilon is infinite") {
    // equal spreads mu sd apart: epsilon(1e-5) is near mu^2 / 2 + 4.26 mu (1463 at mu = 50, 3132 at 75, 20852 at 200)
    assertClose(GaussianPair.delta(0, 1, 37, 1, 720), integrated(37, 1, 0, 1, 720), 1e-9, "delta at 720, 37 sd apart")
    for (mu <- Seq(50.0, 75.0)) {
      val epsilon = GaussianPair.epsilon(0, 1, mu, 1, 1e-5)
      val (at, below) = (integrated(mu, 1, 0, 1, epsilon), integrated(mu, 1, 0, 1, epsilon * (1 - 1e-7)))
      assert(at <= 1e-5 * (1 + 1e-9) && below > 1e-5, s"$mu sd apart: epsilon $epsilon, integrated $at at it, $below just below")
    }
    assert(GaussianPair.epsilon(0, 1, 200, 1, 1e-5).isPosInfinity)
  }
}
