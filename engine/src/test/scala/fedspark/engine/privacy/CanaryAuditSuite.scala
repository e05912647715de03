package fedspark.engine.privacy

import org.scalatest.funsuite.AnyFunSuite

/**
 * The canary audit's statistics on vectors whose values are worked out by hand: the cosines with a round's change
 * (unit directions, any sign), the fit of the null and canary statistics, and the settings it refuses.
 * PrivacyGuaranteeSuite holds the audit's estimate to the accountant on whole runs.
 */
class CanaryAuditSuite extends AnyFunSuite {

  test("an audit needs at least 2 canaries") {
    val one = intercept[IllegalArgumentException](new CanaryAudit(1, 10, 0.5, 1L))
    assert(one.getMessage == "train.privacy.audit.canaries must be 0 (off) or at least 2, got 1")
    assert(new CanaryAudit(2, 10, 0.5, 1L).canaries() == 2)
  }

  test("an audit whose 2 N directions would take more than half the driver heap is refused before it allocates them") {
    val heap = Runtime.getRuntime.maxMemory
    // N = 2 directions of d floats, twice: 16 d bytes, just above half the heap
    val d = heap / 32 + 1
    assume(d <= Int.MaxValue, s"a heap of $heap bytes")
    val refused = intercept[IllegalArgumentException](new CanaryAudit(2, d.toInt, 0.5, 1L))
    assert(refused.getMessage == s"train.privacy.audit.canaries = 2 needs ${16 * d / (1024 * 1024)} MB of driver heap for the " +
      s"directions (2 N x $d floats), more than half of it")
  }

  /** Small exact values (multiples of 1/4 below 8): float sums of them are exact, so a change is read back exactly. */
  private def quarters(n: Int, seed: Long): Array[Float] = {
    val random = new scala.util.Random(seed)
    Array.fill(n)((random.nextInt(33) - 16) / 4f)
  }

  test("every direction's largest cosine after one round is its cosine with that round's change, negative ones included") {
    // cos(c, -v) = -cos(c, v): two audits of the same directions, one seeing the change v and one -v, from a model g
    val (d, n) = (40, 6)
    val g = quarters(d, 1L)
    val v = quarters(d, 2L)
    def largestAfter(sign: Float): Array[Float] = {
      val audit = new CanaryAudit(n, d, 0.5, 3L)
      audit.observe(g)
      audit.measure(g, g.indices.map(i => g(i) + sign * v(i)).toArray, 1e-5)
      audit.state().get("dp_canary_largest")
    }
    val plus = largestAfter(1)
    val minus = largestAfter(-1)
    assert(plus.length == 2 * n)
    assert(plus.indices.forall(i => plus(i) == -minus(i)), s"${plus.toSeq} against ${minus.toSeq}")
    assert(plus.take(n).exists(_ < 0) && plus.drop(n).exists(_ < 0), plus.toSeq) // both kinds: inserted and never inserted
  }

  test("unit directions: with both canaries inserted, each one's cosine with the change c_1 + c_2 is |c_1 + c_2| / 2; the final model's estimate is then the all-iterates one") {
    // c_1 . (c_1 + c_2) = 1 + c_1 . c_2 = |c_1 + c_2|^2 / 2 for unit c_1, c_2. Three dimensions: a direction that is not
    // of norm 1 is far from it. q = 1: every canary is inserted.
    val audit = new CanaryAudit(2, 3, 1.0, 5L)
    val g = Array(1f, -2f, 3f)
    audit.observe(g)
    val both = new Array[Double](3)
    audit.insert(1, both, 1.0)
    val norm = math.sqrt(both.map(x => x * x).sum)
    audit.measure(g, g.indices.map(i => (g(i) + both(i)).toFloat).toArray, 1e-5)
    val largest = audit.state().get("dp_canary_largest")
    for (j <- 0 until 2) {
      assert(math.abs(largest(j) - norm / 2) < 1e-6, s"canary $j: cosine ${largest(j)}, by hand ${norm / 2}")
    }
    // one round from the first model: the change since the start is the round's change
    val metrics = audit.metrics()
    val (last, all) = (metrics.get("epsilon_est").doubleValue, metrics.get("epsilon_est_all").doubleValue)
    assert(all > 0 && math.abs(last - all) < 1e-4 * all, s"final $last, all iterates $all")
  }

  test("cosine: c . v / |v| for a unit c, 0 for v = 0") {
    assert(math.abs(CanaryAudit.cosine(Array(0.6f, 0.8f), Array(3.0, 4.0), 5) - 1) < 1e-6)
    assert(math.abs(CanaryAudit.cosine(Array(1f, 0f), Array(-2.0, 2.0), math.sqrt(8)) + 1 / math.sqrt(2)) < 1e-12)
    assert(CanaryAudit.cosine(Array(1f, 0f), Array(0.0, 0.0), 0) == 0)
  }

  test("fit: the mean and the (n - 1) standard deviation, the same far from 0") {
    // {1, 2, 4}: mean 7/3, squared deviations 16/9 + 1/9 + 25/9 = 42/9 over n - 1 = 2: std sqrt(7/3)
    for (offset <- Seq(0.0, 1e12)) {
      val Array(mean, std) = CanaryAudit.fit(Array(1.0, 2.0, 4.0).map(_ + offset))
      assert(math.abs(mean - offset - 7.0 / 3) < 1e-3, s"offset $offset: mean $mean")
      assert(math.abs(std - math.sqrt(7.0 / 3)) < 1e-9, s"offset $offset: std $std")
    }
  }
}
