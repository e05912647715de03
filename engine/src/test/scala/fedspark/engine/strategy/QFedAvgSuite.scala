package fedspark.engine.strategy

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{HandSgd, ModelSpec, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.state.ClientState
import fedspark.models.{FlatParameters, InputShape}

/** q-FedAvg (q-FFL's Algorithm 2) against one round computed by hand in double, q = 0 against its uniform average, its sampling. */
class QFedAvgSuite extends AnyFunSuite {

  private val lr = 0.1
  private val spec = new ModelSpec("logreg", InputShape.ofFlatSize(4), 3, lr)
  private val x0 = FlatParameters.of(spec.newNetwork(2L))

  private def shard(client: Int, n: Int, seed: Long): ClientShard = {
    val random = new scala.util.Random(seed)
    new ClientShard(client, 4, Array.fill(n * 4)(random.nextFloat() * 2 - 1), Array.fill(n)(random.nextInt(3)))
  }

  private val clients = Seq(shard(0, 5, 1L), shard(1, 8, 2L), shard(2, 13, 3L)) // unequal n_k
  private val sizes = clients.map(_.size.toLong).toArray

  private def settings(algorithm: String) =
    new TrainSettings("logreg", 1, 1.0, 2, 3, lr, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO, 0.0, 0.0)

  private object NoState extends ClientState {
    override def get(name: String): Array[Float] = null
    override def put(name: String, values: Array[Float]): Unit = ()
  }

  private def qfedavg(q: Double) =
    TestRuns.strategyWith(settings("qfedavg"), spec, sizes, s"qfedavg { q = $q, sampling = uniform }").asInstanceOf[Strategy[WeightedSum]]

  /** One round of `s` over every client from x0. */
  private def round(s: Strategy[WeightedSum]): Array[Float] = {
    val update = s.clientUpdate()
    val input = new RoundInput(1, x0, java.util.Map.of(), null)
    s.serverStep(1, x0, clients.foldLeft(s.newAggregate())((agg, c) => agg.add(update.update(c, input, NoState))))
  }

  /** The mean cross-entropy of logistic regression w on a shard, by hand in double. */
  private def handLoss(c: ClientShard, w: Array[Double]): Double = (0 until c.size).map { e =>
    val z = Array.tabulate(3)(j => (0 until 4).map(i => c.features()(e * 4 + i) * w(i + 4 * j)).sum + w(12 + j))
    val m = z.max
    val logSum = m + math.log(z.map(v => math.exp(v - m)).sum)
    logSum - z(c.labels()(e))
  }.sum / c.size

  /** Algorithm 2's round by hand: L = 1 / lr, Delta_k = F_k^q L (w - w_k), h_k = q F_k^(q-1) L^2 ||w - w_k||^2 + L F_k^q. */
  private def handRound(q: Double): Array[Double] = {
    val w = x0.map(_.toDouble)
    val l = 1 / lr
    val parts = clients.map { c =>
      val f = handLoss(c, w) + 1e-10
      val (wk, _) = HandSgd.train(c, w, 3, 2, 3, 4L, 1, HandSgd.Rule(lr))
      val diff = w.indices.map(j => w(j) - wk(j))
      val delta = diff.map(d => math.pow(f, q) * l * d)
      val h = q * math.pow(f, q - 1) * l * l * diff.map(d => d * d).sum + l * math.pow(f, q)
      (delta, h)
    }
    val hSum = parts.map(_._2).sum
    w.indices.map(j => w(j) - parts.map(_._1(j)).sum / hSum).toArray
  }

  test("one round of q-FedAvg against Algorithm 2 computed by hand (q = 1, q = 2, q = 0.5)") {
    for (q <- Seq(1.0, 2.0, 0.5)) {
      val hand = handRound(q)
      val next = round(qfedavg(q))
      val moved = hand.indices.map(j => math.abs(hand(j) - x0(j))).max
      assert(moved > 1e-3, s"q = $q: the round moves the model ($moved)")
      assert(HandSgd.maxDifference(next, hand) <= 1e-5 * math.max(1, moved), s"q = $q: ${HandSgd.maxDifference(next, hand)}")
    }
    // q matters: q = 1 is neither q = 0 nor q = 2
    assert(HandSgd.maxDifference(round(qfedavg(1)), handRound(0)) > 1e-4 && HandSgd.maxDifference(round(qfedavg(1)), handRound(2)) > 1e-4)
  }

  test("q = 0: the uniform-weight average of the clients' models (FedAvg's clients), not the n_k-weighted one") {
    val next = round(qfedavg(0))
    val fedavg = TestRuns.strategyWith(settings("fedavg"), spec, sizes, "")
    val models = clients.map(c => fedavg.clientUpdate().update(c, new RoundInput(1, x0, java.util.Map.of(), null), NoState).vector.map(_.toDouble))
    val uniform = x0.indices.map(j => models.map(_(j)).sum / models.size).toArray
    val weighted = x0.indices.map(j => models.zip(sizes).map { case (m, n) => m(j) * n }.sum / sizes.sum).toArray
    assert(HandSgd.maxDifference(next, uniform) <= 1e-6, s"${HandSgd.maxDifference(next, uniform)}")
    assert(HandSgd.maxDifference(next, weighted) > 1e-4)
  }

  test("weighted sampling: each draw in proportion to n_k among the clients not drawn yet (numpy's choice with p, no replacement)") {
    val rounds = 20000
    // one draw: P(k) = n_k / n
    val one = (1 to rounds).map(r => QFedAvg.weightedSample(Array(1L, 3L, 6L, 0L), 1, 9L, r).head)
    for ((k, p) <- Seq(0 -> 0.1, 1 -> 0.3, 2 -> 0.6, 3 -> 0.0)) {
      val observed = one.count(_ == k).toDouble / rounds
      assert(math.abs(observed - p) <= 4.5 * math.sqrt(p * (1 - p) / rounds) + 1e-12, s"client $k: $observed, expected $p")
    }
    // two of sizes (1, 1, 2): P(client 2 drawn) = 1/2 + 2 (1/4)(2/3) = 5/6 (with replacement it would be 1 - 1/4 = 3/4)
    val two = (1 to rounds).map(r => QFedAvg.weightedSample(Array(1L, 1L, 2L), 2, 9L, r))
    assert(two.forall(s => s.distinct.length == 2 && s.sorted.sameElements(s)))
    val p2 = two.count(_.contains(2)).toDouble / rounds
    assert(math.abs(p2 - 5.0 / 6) <= 4.5 * math.sqrt(5.0 / 36 / rounds), s"P(client 2) = $p2")
    // the strategy samples this way, seeded by the run seed and the round
    val half = new TrainSettings("logreg", 1, 0.5, 2, 3, lr, 4L, "qfedavg", 1, TrainSettings.LocalStep.AUTO, 0.0, 0.0)
    val s = TestRuns.strategyWith(half, spec, Array(1L, 3L, 6L, 0L), "qfedavg { q = 1 }") // default sampling: weighted
    for (r <- 1 to 20) assert(s.sample(r, 4).sameElements(QFedAvg.weightedSample(Array(1L, 3L, 6L, 0L), 2, 4L, r)))
  }

  test("F_k over a shard of more than 500 examples (evaluated in blocks of 500) is its mean cross-entropy, by hand") {
    val local = new LocalSgd(spec, fedspark.engine.TrainSettings.LocalStep.AUTO, 1, 3, 4L)
    for (n <- Seq(1000, 1234)) {
      val big = shard(5, n, 7L)
      val w = x0.map(_.toDouble)
      val f = QFedAvg.loss(local, big, x0)
      assert(math.abs(f - handLoss(big, w)) <= 1e-5, s"n = $n: $f vs ${handLoss(big, w)}")
    }
  }

  test("weighted sampling draws up to the clients with examples and no more; uniform sampling needs no sizes") {
    assert(QFedAvg.weightedSample(Array(1L, 3L, 0L), 2, 9L, 1).sameElements(Array(0, 1)))
    val error = intercept[IllegalArgumentException](QFedAvg.weightedSample(Array(1L, 0L, 0L), 2, 9L, 1))
    assert(error.getMessage.contains("1 have examples"))
    val unknown = new Array[Long](3)
    val uniform = TestRuns.strategyWith(settings("qfedavg"), spec, unknown, "qfedavg { q = 1, sampling = uniform }")
    assert(uniform.sample(1, 3).length == 3)
    assert(intercept[IllegalArgumentException](TestRuns.strategyWith(settings("qfedavg"), spec, unknown, "qfedavg { q = 1 }"))
      .getMessage.contains("sizes"))
  }

  test("q-FedAvg samples its clients itself: it refuses train.simulation and train.stragglers") {
    for (train <- Seq("simulation.enabled = true", "stragglers.fraction = 0.5")) {
      val error = intercept[IllegalArgumentException](TestRuns.strategyWith(settings("qfedavg"), spec, sizes, s"qfedavg { q = 1 }, $train"))
      assert(error.getMessage.contains("qfedavg samples its clients itself"), train)
    }
  }
}
