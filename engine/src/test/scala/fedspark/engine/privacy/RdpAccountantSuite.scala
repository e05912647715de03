package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The accountant against values published with Google's dp_accounting (rdp_privacy_accountant_test.py) and
 * TensorFlow Privacy (compute_dp_sgd_privacy_test.py, the orders of RdpAccountant.ORDERS), each within 1%.
 */
class RdpAccountantSuite extends AnyFunSuite {

  private def within1Percent(actual: Double, expected: Double, what: String): Unit =
    assert(math.abs(actual - expected) <= 0.01 * math.abs(expected), s"$what: $actual, published $expected")

  test("RDP of 50 steps at q = 0.01, z = 2.5 equals dp_accounting's at orders 1.5 to 100, infinite at infinity") {
    val orders = Array(1.5, 2.5, 5, 50, 100)
    val published = Array(6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02)
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
}
