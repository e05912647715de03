package fedspark.engine.aggregate

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.logic.Update
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

  test("a float's fixed-point value is Math.round's of v * 2^32: at ties either side of 0, next to them, at every exponent") {
    def expected(v: Float) = math.round(v.toDouble * FixedPointSum.SCALE)
    val ties = for (k <- Seq(0, 1, 2, 3, 1000, 8388606, 8388607); e <- Seq(-33, -34, -40)) yield ((2L * k + 1) * math.pow(2, e)).toFloat
    val near = ties.flatMap(t => Seq(t, Math.nextUp(t), Math.nextDown(t)))
    val random = new java.util.Random(7)
    // exponents from the subnormals to 2^29 (so |v| * 2^32 < 2^62); 2^20 to 2^21 is where v * 2^32 passes 2^52
    val everyExponent = for (e <- -149 to 29; _ <- 1 to 200) yield (java.lang.Math.scalb(1 + random.nextFloat(), e)).toFloat
    val bits = Iterator.continually(java.lang.Float.intBitsToFloat(random.nextInt())).filter(v => !v.isNaN && !v.isInfinite && math.abs(v) < (1 << 30)).take(200000)
    val values = (near ++ everyExponent ++ bits).flatMap(v => Seq(v, -v))
    val wrong = values.filter(v => FixedPointSum.fixedFloat(v) != expected(v))
    assert(wrong.isEmpty, wrong.take(5).map(v => s"$v: ${FixedPointSum.fixedFloat(v)} against ${expected(v)}").mkString(", "))
    // through a sum: 3 clients' worth of the ties 0.5 and -0.5 units (2^-33), rounded up each: 3 * 1 and 3 * 0
    val tie = math.pow(2, -33).toFloat
    val sum = WeightedSum.empty().add(result(0, 3, tie, -tie)).add(result(1, 1, 0f, 0f))
    assert(sum.average().toSeq == Seq((3.0 / 4 / FixedPointSum.SCALE).toFloat, 0f))
    // a non-integral weight rounds the double product w * v once (rounded to a float first, it would be off by thousands
    // of 2^-32 units here)
    val (w, v) = (0.1, 1000.7f)
    val exact = math.round(w * v * FixedPointSum.SCALE)
    assert(exact != math.round((w * v).toFloat * FixedPointSum.SCALE))
    val tenth = WeightedSum.empty().add(ClientResult.weightedByExamples(0, 1, Array(0f), 0, 1).`with`("a", w, v))
    assert(tenth.named("a").sum()(0) == exact / FixedPointSum.SCALE)
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

  /** Client k's result after the logic layer: `update` with weight w. */
  private def sent(k: Int, update: Update, w: Double) = result(k, 1, 0f).transformed(update, w, java.util.Map.of())

  test("a client with examples but weight 0 is refused, whether it sends a vector or a logic-layer update") {
    val vector = new ClientResult(0, 5, 0.0, Array(1f), java.util.Map.of(), 0, 0)
    assert(intercept[IllegalArgumentException](WeightedSum.empty().add(vector)).getMessage.contains("weight 0.0"))
    val update = sent(1, Update.of(Array(1f)), 0.0)
    assert(intercept[IllegalArgumentException](WeightedSum.empty().add(update)).getMessage.contains("weight 0.0"))
  }

  test("logic-layer updates: a non-integral weight multiplies the value; integral weights give the bits of the same floats sent as vectors") {
    val sum = WeightedSum.empty().add(sent(0, Update.of(Array(2f, 0.25f)), 0.5)).add(sent(1, Update.of(Array(-1f, 4f)), 2.5))
    // 0.5 * 2 + 2.5 * -1 = -1.5 and 0.5 * 0.25 + 2.5 * 4 = 10.125, over a weight of 3
    assert(sum.vectors().weight() == 3.0)
    assert(sum.vectors().sum().zip(Seq(-1.5, 10.125)).forall { case (a, b) => math.abs(a - b) < 1e-9 }, sum.vectors().sum().toSeq)
    assert(sum.average().zip(Seq(-0.5, 3.375)).forall { case (a, b) => math.abs(a - b) < 1e-6 }, sum.average().toSeq)
    // floats near 1e-3 have bits below 2^-32: n round(x 2^32) and round(n x 2^32) differ, and only the first is what a vector adds
    val random = new scala.util.Random(11)
    val vectors = (0 until 5).map(_ => Array.fill(40)((random.nextGaussian() * 1e-3).toFloat))
    val asVectors = vectors.zipWithIndex.foldLeft(WeightedSum.empty()) { case (s, (v, k)) => s.add(result(k, 1 + 2 * k, v: _*)) }
    val asUpdates = vectors.zipWithIndex.foldLeft(WeightedSum.empty()) { case (s, (v, k)) => s.add(sent(k, Update.of(v), 1 + 2 * k)) }
    assert(asUpdates.vectors().sum().sameElements(asVectors.vectors().sum()))
  }

  test("a logic-layer update with a non-finite value, or out of the fixed-point range, is reported") {
    assert(intercept[ArithmeticException](WeightedSum.empty().add(sent(4, Update.of(Array(0f, Float.NaN)), 2))).getMessage.contains("client 4"))
    // 2^20 * 1e9 * 2^32 > 2^62
    val huge = intercept[ArithmeticException](WeightedSum.empty().add(sent(0, Update.of(Array(1e9f)), (1L << 20).toDouble)))
    assert(huge.getMessage.contains("fixed-point range"))
  }

  test("partial sums each within the fixed-point range whose merge is not are reported") {
    // each 2^20 * 600 * 2^32 = 600 * 2^52, under 2^62 = 1024 * 2^52; merged 1200 * 2^52
    val a = WeightedSum.empty().add(result(0, 1L << 20, 600f))
    val b = WeightedSum.empty().add(result(1, 1L << 20, 600f))
    assert(intercept[ArithmeticException](a.merge(b)).getMessage.contains("fixed-point range"))
  }

  test("sum and meanAround of a single client; of none, an error") {
    assert(WeightedSum.empty().add(result(0, 3, 0.5f, -2f)).vectors().sum().toSeq == Seq(1.5, -6.0))
    assert(WeightedSum.empty().add(result(0, 3, 0.5f, -2f)).vectors().meanAround(Array(1f, 1f)).toSeq == Seq(1.5f, -1f))
    assert(intercept[IllegalStateException](WeightedSum.empty().vectors().sum()).getMessage.contains("no client"))
    assert(intercept[IllegalStateException](WeightedSum.empty().vectors().meanAround(Array(1f))).getMessage.contains("no client"))
  }

  test("model changes from the logic layer give the clients' mean model bit for bit, also when merged into an empty partial sum") {
    val random = new scala.util.Random(5)
    val global = Array.fill(50)(random.nextGaussian().toFloat)
    val models = (0 until 6).map(_ => global.map(x => x + 0.1f * random.nextGaussian().toFloat))
    val sizes = Seq(3L, 1L, 7L, 2L, 5L, 4L)
    val plain = models.zip(sizes).zipWithIndex.foldLeft(WeightedSum.empty()) { case (s, ((m, n), k)) => s.add(result(k, n, m: _*)) }
    val changes = models.zip(sizes).zipWithIndex.map { case ((m, n), k) => result(k, n, m: _*).transformed(Update.modelDelta(global, m), n.toDouble, java.util.Map.of()) }
    val deltas = changes.foldLeft(WeightedSum.empty())(_ add _)
    val byHand = global.indices.map(i => models.zip(sizes).map { case (m, n) => n * m(i).toDouble }.sum / sizes.sum)
    assert(plain.average().zip(byHand).forall { case (a, b) => math.abs(a - b) < 1e-6 })
    assert(deltas.meanModel(global).sameElements(plain.average()))
    val merged = WeightedSum.empty().merge(changes.foldLeft(WeightedSum.empty())(_ add _))
    assert(merged.meanModel(global).sameElements(plain.average()))
    assert(intercept[IllegalStateException](merged.average()).getMessage.contains("meanModel"))
  }

  test("model changes with non-integral weights: global + sum_k w_k d_k / sum_k w_k") {
    val global = Array(1f, -2f)
    val sum = WeightedSum.empty()
      .add(sent(0, Update.modelDelta(global, Array(1.5f, -2f)), 0.25))
      .add(sent(1, Update.modelDelta(global, Array(0f, 2f)), 0.5))
    // 1 + (0.25 * 0.5 + 0.5 * -1) / 0.75 = 0.5; -2 + (0.25 * 0 + 0.5 * 4) / 0.75 = 2 / 3
    val mean = sum.meanModel(global)
    assert(math.abs(mean(0) - 0.5) < 1e-6 && math.abs(mean(1) - 2.0 / 3) < 1e-6, mean.toSeq)
  }

  test("a merge adds the partials' examples, clients, bytes and losses and keeps every served client; a client counted twice is an error") {
    val left = WeightedSum.empty().add(withLoss(0, 1, 0.9, 1f, 2f)).add(withLoss(1, 3, 0.5, 0f, 0f))
    val right = WeightedSum.empty().add(withLoss(2, 6, 0.2, 1f, 1f)).add(ClientResult.empty(3))
    val merged = left.merge(right)
    assert(merged.examples() == 10 && merged.clients() == 3)
    assert(merged.bytes() == 3 * 2 * 4) // three clients with examples, two floats each
    assert(math.abs(merged.meanLoss() - 0.36) < 1e-6, merged.meanLoss()) // (1 * 0.9 + 3 * 0.5 + 6 * 0.2) / 10
    assert(merged.served().asScala.map(_.client).sorted == Seq(0, 1, 2, 3))
    val fresh = merged.fresh()
    assert(fresh.clients() == 0 && fresh.served().isEmpty && fresh.add(result(1, 2, 5f, 5f)).clients() == 1)
    val retried = intercept[IllegalStateException](merged.merge(WeightedSum.empty().add(result(1, 2, 5f, 5f))))
    assert(retried.getMessage.contains("client 1 counted twice"), retried.getMessage)
    val twice = intercept[IllegalStateException](WeightedSum.empty().add(result(5, 1, 1f)).add(result(5, 1, 1f)))
    assert(twice.getMessage.contains("client 5 counted twice"), twice.getMessage)
  }

  test("secure aggregation: masked encodings, summed in merged partials and unmasked, give the plain weighted sum; the masks cancel modulo 2^64") {
    val clients = Seq(withLoss(0, 1, 0.9, 1.0f, -2.0f, 0.25f), withLoss(1, 3, 0.5, 2.0f, 0.0f, 0.5f),
      withLoss(2, 6, 0.2, -1.0f, 4.0f, 0.125f), ClientResult.empty(3))
    assert(WeightedSum.encode(clients(3), 3, false).toSeq == Seq.fill(3 + WeightedSum.ENCODED_EXTRA)(0L))
    val random = new scala.util.Random(7)
    val masks = clients.map(_ => Array.fill(3 + WeightedSum.ENCODED_EXTRA)(random.nextLong()))
    val masked = clients.zip(masks).map { case (c, r) =>
      ClientResult.masked(c.client, WeightedSum.encode(c, 3, false).zip(r).map { case (e, m) => e + m })
    }
    val sum = WeightedSum.empty().add(masked(0)).add(masked(3)).merge(WeightedSum.empty().add(masked(1)).add(masked(2)))
    assert(sum.maskedClients().asScala == Set(0, 1, 2, 3))
    sum.unmask(masks.reduce((a, b) => a.zip(b).map { case (x, y) => x + y }), false)
    // as in the first test: (0.1, 2.2, 0.25), 10 examples of 3 clients, mean loss 0.36
    val average = sum.average()
    assert(math.abs(average(0) - 0.1) < 1e-7 && math.abs(average(1) - 2.2) < 1e-7 && average(2) == 0.25f, average.toSeq)
    assert(sum.examples() == 10 && sum.clients() == 3 && math.abs(sum.meanLoss() - 0.36) < 1e-6)
  }

  test("secure aggregation encodes model changes only when set up for them") {
    val global = Array(1f, 2f)
    val change = sent(0, Update.modelDelta(global, Array(1.5f, 2f)), 2)
    val encoded = WeightedSum.encode(change, 2, true)
    assert(encoded(0) == 2 * (1L << 31) && encoded(1) == 0 && encoded(2) == 2L << 32) // 2 * 0.5 * 2^32, 0, w = 2 in fixed point
    assert(intercept[IllegalStateException](WeightedSum.encode(change, 2, false)).getMessage.contains("set up for models"))
  }

  test("unmasking: deliveries from empty clients only leave no average; a combined bound past 2^62 is reported") {
    val empties = WeightedSum.empty().add(ClientResult.masked(0, WeightedSum.encode(ClientResult.empty(0), 2, false)))
    empties.unmask(new Array[Long](2 + WeightedSum.ENCODED_EXTRA), false)
    assert(empties.clients() == 0)
    assert(intercept[IllegalStateException](empties.average()).getMessage.contains("no client"))
    // each client's bound 2^20 * 600 * 2^32 = 600 * 2^52, under 2^62 = 1024 * 2^52; together 1200 * 2^52
    val big = Seq(result(0, 1L << 20, 600f, 1f), result(1, 1L << 20, 600f, 1f))
      .map(c => ClientResult.masked(c.client, WeightedSum.encode(c, 2, false)))
      .foldLeft(WeightedSum.empty())(_ add _)
    val out = intercept[ArithmeticException](big.unmask(new Array[Long](2 + WeightedSum.ENCODED_EXTRA), false))
    assert(out.getMessage.contains("fixed-point range"))
  }
}
