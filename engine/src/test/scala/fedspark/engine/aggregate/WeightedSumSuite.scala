package fedspark.engine.aggregate

import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.strategy.ClientResult

class WeightedSumSuite extends AnyFunSuite {

  private def result(client: Int, n: Long, values: Float*) = ClientResult.weightedByExamples(client, n, values.toArray, 0.5 * n, n)

  /** A client whose mean training loss is `loss`. */
  private def withLoss(client: Int, n: Long, loss: Double, values: Float*) =
    ClientResult.weightedByExamples(client, n, values.toArray, loss * n, n)

  test("the weighted average and the mean loss equal a hand computation for clients of different sizes and losses") {
    val sum = WeightedSum.empty()
      .add(withLoss(0, 1, 0.9, 1.0f, -2.0f, 0.25f))
      .add(withLoss(1, 3, 0.5, 2.0f, 0.0f, 0.5f))
      .add(withLoss(2, 6, 0.2, -1.0f, 4.0f, 0.125f))
    // (1*1 + 3*2 + 6*-1) / 10 = 0.1; (1*-2 + 0 + 6*4) / 10 = 2.2; (0.25 + 1.5 + 0.75) / 10 = 0.25
    val average = sum.average()
    assert(math.abs(average(0) - 0.1) < 1e-7)
    assert(math.abs(average(1) - 2.2) < 1e-7)
    assert(average(2) == 0.25f)
    assert(sum.examples() == 10 && sum.clients() == 3)
    // weighted by examples: (1 * 0.9 + 3 * 0.5 + 6 * 0.2) / 10 = 0.36 (the unweighted mean of the three would be 0.533)
    assert(math.abs(sum.meanLoss() - 0.36) < 1e-6, sum.meanLoss())
  }

  test("named quantities are summed with their own weights, in any merge order to the same bits") {
    def client(k: Int, n: Long, v: Float, c: Float, a: Float) =
      ClientResult.weightedByExamples(k, n, Array(v), 0, 0).`with`("delta_c", 1, c).`with`("a", 0.25 * n, a)
    val results = Seq(client(0, 2, 1f, 0.5f, 10f), client(1, 6, 3f, -1.5f, 30f), client(2, 4, -2f, 0.25f, 20f))
    val sum = results.foldLeft(WeightedSum.empty())(_ add _)
    assert(math.abs(sum.average()(0) - (2 * 1 + 6 * 3 - 4 * 2) / 12.0) < 1e-7)
    assert(sum.named("delta_c").weight() == 3 && math.abs(sum.named("delta_c").sum()(0) - (0.5 - 1.5 + 0.25)) < 1e-9)
    assert(math.abs(sum.named("a").mean()(0) - (0.5 * 10 + 1.5 * 30 + 1.0 * 20) / 3.0) < 1e-5) // non-integral weights
    val merged = WeightedSum.empty().add(results(2)).merge(WeightedSum.empty().add(results(0)).add(results(1)))
    assert(merged.named("a").mean().sameElements(sum.named("a").mean()) && merged.average().sameElements(sum.average()))
    assert(intercept[IllegalStateException](sum.named("missing")).getMessage.contains("missing"))
  }

  test("merging partial sums in any order gives the same bits") {
    val random = new scala.util.Random(3)
    val results = (0 until 12).map(k => result(k, 1 + random.nextInt(500), Array.fill(50)(random.nextGaussian().toFloat * 0.1f): _*))
    def fold(order: Seq[Int], split: Int) = {
      val (a, b) = order.splitAt(split)
      val left = a.foldLeft(WeightedSum.empty())((s, i) => s.add(results(i)))
      val right = b.foldLeft(WeightedSum.empty())((s, i) => s.add(results(i)))
      if (split % 2 == 0) left.merge(right).average() else right.merge(left).average()
    }
    val reference = fold(results.indices, 0)
    for (seed <- 1 to 20) {
      val order = new scala.util.Random(seed).shuffle(results.indices.toList)
      assert(fold(order, seed % 12).sameElements(reference), s"order $order")
    }
  }

  test("empty clients carry no weight and an all-empty round is an error") {
    val sum = WeightedSum.empty().add(ClientResult.empty(0)).add(result(1, 2, 3.0f))
    assert(sum.average().toSeq == Seq(3.0f) && sum.clients() == 1)
    assert(intercept[IllegalStateException](WeightedSum.empty().average()).getMessage.contains("no client"))
  }

  test("non-finite values and out-of-range sums are reported, never averaged") {
    assert(intercept[ArithmeticException](WeightedSum.empty().add(result(4, 2, Float.NaN))).getMessage.contains("client 4"))
    val huge = intercept[ArithmeticException](WeightedSum.empty().add(result(0, 1L << 20, 1e9f)))
    assert(huge.getMessage.contains("fixed-point range"))
  }

  test("vectors of different lengths are refused") {
    val sum = WeightedSum.empty().add(result(0, 1, 1f, 2f))
    assert(intercept[IllegalStateException](sum.add(result(1, 1, 1f))).getMessage.contains("client 1"))
  }
}
