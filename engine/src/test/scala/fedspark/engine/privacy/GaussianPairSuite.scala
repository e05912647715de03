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
