package fedspark.engine.robust

import scala.collection.JavaConverters._

import com.typesafe.config.ConfigFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{HandSgd, TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.strategy.{ClientResult, RoundInput, Strategy}

/** The robust rules against hand computations, the attacks against their definitions, and the robust strategy's rounds. */
class RobustSuite extends AnyFunSuite {
  import TestClients._
  private val NoState = new MemoryState


  private def entries(vectors: Seq[Float]*): java.util.List[ClientVectors.Entry] =
    vectors.zipWithIndex.map { case (v, k) => new ClientVectors.Entry(k, 1.0, v.toArray) }.asJava

  private val five = entries(Seq(1f, 10f), Seq(2f, -1f), Seq(3f, 0f), Seq(4f, 2f), Seq(100f, 3f))

  test("coordinate-wise median: the middle value, or the mean of the two middle ones") {
    assert(new CoordinateMedian().combine(five).toSeq == Seq(3f, 2f))
    assert(new CoordinateMedian().combine(entries(Seq(1f), Seq(4f), Seq(2f), Seq(10f))).toSeq == Seq(3f))
  }

  test("trimmed mean drops floor(beta m) at each end; with no trimming it is the plain mean") {
    // beta = 0.2, m = 5: drop 1 at each end; coordinate 0 keeps 2, 3, 4; coordinate 1 keeps 0, 2, 3
    assert(new TrimmedMean(0.2).combine(five).toSeq == Seq(3f, 5f / 3))
    assert(new TrimmedMean(0.0).combine(five).toSeq == Seq(22f, 2.8f))
    assert(new TrimmedMean(0.0).combine(five).toSeq == RobustRule.weightedMean(five).toSeq)
  }

  test("Krum takes the update with the least squared distance to its m - f - 2 nearest others; Multi-Krum averages the best") {
    // f = floor(0.2 x 5) = 1: each score sums the 2 nearest squared distances
    // d^2: (0,1)=122 (0,2)=104 (0,3)=73 (0,4)=9802 (1,2)=2 (1,3)=13 (1,4)=9620 (2,3)=5 (2,4)=9418 (3,4)=9217
    // scores: 0: 73+104=177, 1: 2+13=15, 2: 2+5=7, 3: 5+13=18, 4: 9217+9418 -> Krum picks client 2
    assert(new Krum(0.2, 1).combine(five).toSeq == Seq(3f, 0f))
    // Multi-Krum of 3: clients 2, 1, 3
    assert(new Krum(0.2, 3).combine(five).toSeq == Seq(3f, 1f / 3))
    // 0: m - f = 4 of them: clients 2, 1, 3, 0
    assert(new Krum(0.2, 0).combine(five).toSeq == Seq(2.5f, 2.75f))
  }

  test("norm bounding scales every update to norm at most M, then takes the weighted mean") {
    val two = java.util.List.of(new ClientVectors.Entry(0, 1.0, Array(3f, 4f)), new ClientVectors.Entry(1, 3.0, Array(0.6f, 0.8f)))
    // (3, 4) has norm 5 -> (0.6, 0.8); both then equal
    val bounded = new NormBounding(1.0).combine(two)
    assert(math.abs(bounded(0) - 0.6f) < 1e-6 && math.abs(bounded(1) - 0.8f) < 1e-6)
    assert(RobustRule.weightedMean(two).toSeq == Seq(1.2f, 1.6f))
  }

  test("norm bounding scales down only the updates above M: one above and one below give neither the mean nor everything at M") {
    val two = java.util.List.of(new ClientVectors.Entry(0, 1.0, Array(3f, 4f)), new ClientVectors.Entry(1, 3.0, Array(0.3f, 0.4f)))
    // (3, 4) -> (0.6, 0.8); (0.3, 0.4) stays; weights 1 and 3: ((0.6 + 0.9) / 4, (0.8 + 1.2) / 4)
    val bounded = new NormBounding(1.0).combine(two)
    assert(math.abs(bounded(0) - 0.375) < 1e-6 && math.abs(bounded(1) - 0.5) < 1e-6, bounded.toSeq)
  }

  private def attack(kind: String, clients: Int = 100, fraction: Double = 0.2, z: Double = 0) = new Attack(
    ConfigFactory.parseString(s"kind = $kind, fraction = $fraction, scale = 10, noise-std = 0.5, z = $z"), clients, 10, 3L)

  test("attacks: floor(fraction K) malicious clients, seeded; sign flip, scale and Gaussian noise replace their updates") {
    val flip = attack("sign-flip")
    assert((0 until 100).count(flip.isMalicious) == 20 && flip.count == 20)
    assert((0 until 100).filter(flip.isMalicious) == (0 until 100).filter(attack("scale").isMalicious))
    val bad = (0 until 100).find(flip.isMalicious).get
    val good = (0 until 100).find(k => !flip.isMalicious(k)).get
    assert(flip.corrupt(Array(1f, -2f), bad, 1).toSeq == Seq(-1f, 2f))
    assert(flip.corrupt(Array(1f, -2f), good, 1).toSeq == Seq(1f, -2f))
    assert(attack("scale").corrupt(Array(1f, -2f), bad, 1).toSeq == Seq(10f, -20f))
    val noise = attack("gaussian").corrupt(new Array[Float](20000), bad, 1)
    assert(math.abs(math.sqrt(noise.map(v => v.toDouble * v).sum / noise.length) - 0.5) < 0.01)
    assert(attack("none").count == 0)
  }

  test("label flipping: a malicious client trains on c - 1 - y") {
    val labelFlip = attack("label-flip", clients = 10, fraction = 0.5)
    val bad = (0 until 10).find(labelFlip.isMalicious).get
    val shard = new ClientShard(bad, 2, Array(0f, 1f, 2f, 3f), Array(0, 7))
    assert(labelFlip.data(shard).labels.toSeq == Seq(9, 2))
    val good = (0 until 10).find(k => !labelFlip.isMalicious(k)).get
    assert(labelFlip.data(new ClientShard(good, 2, Array(0f, 1f, 2f, 3f), Array(0, 7))).labels.toSeq == Seq(0, 7))
  }

  test("a little is enough: malicious updates become mu - z sigma of the honest ones; z_max as Baruch et al. give it") {
    val lie = attack("little-is-enough", clients = 5, fraction = 0.4, z = 1.5)
    val updates = (0 until 5).map(k => new ClientVectors.Entry(k, 1.0, Array(k.toFloat, 2f * k))).asJava
    val honest = (0 until 5).filter(k => !lie.isMalicious(k))
    val mean = honest.map(_.toDouble).sum / 3
    val std = math.sqrt(honest.map(k => (k - mean) * (k - mean)).sum / 3)
    val received = lie.received(updates).asScala
    for (e <- received if lie.isMalicious(e.client)) {
      assert(math.abs(e.update()(0) - (mean - 1.5 * std)) < 1e-5 && math.abs(e.update()(1) - 2 * (mean - 1.5 * std)) < 1e-5)
    }
    assert(received.filterNot(e => lie.isMalicious(e.client)).forall(e => e.update()(0) == e.client.toFloat))
    // m = 50, f = 12: s = 26 - 12 = 14, z = Phi^-1(36 / 50) = 0.5828
    assert(math.abs(Attack.zMax(50, 12) - 0.5828) < 1e-3)
  }

  test("a little is enough with z = 0 uses z_max of the round's m and f; a round of only honest or only malicious clients is received unchanged") {
    val lie = attack("little-is-enough", clients = 5, fraction = 0.4)
    val updates = (0 until 5).map(k => new ClientVectors.Entry(k, 1.0, Array(k.toFloat, 2f * k))).asJava
    val honest = (0 until 5).filter(k => !lie.isMalicious(k))
    assert(honest.size == 3)
    val mean = honest.map(_.toDouble).sum / 3
    val std = math.sqrt(honest.map(k => (k - mean) * (k - mean)).sum / 3)
    // m = 5, f = 2: s = floor(3.5) - 2 = 1, z = Phi^-1(4 / 5) = 0.8416212335729143
    val z = 0.8416212335729143
    for (e <- lie.received(updates).asScala if lie.isMalicious(e.client)) {
      assert(math.abs(e.update()(0) - (mean - z * std)) < 1e-5 && math.abs(e.update()(1) - 2 * (mean - z * std)) < 1e-5, e.update().toSeq)
    }
    val allHonest = updates.asScala.filterNot(e => lie.isMalicious(e.client)).asJava
    val allMalicious = updates.asScala.filter(e => lie.isMalicious(e.client)).asJava
    for (round <- Seq(allHonest, allMalicious)) {
      val received = lie.received(round).asScala
      assert(received.map(_.client) == round.asScala.map(_.client) && received.zip(round.asScala).forall { case (a, b) => a.update().sameElements(b.update()) })
    }
  }

  test("attack fraction: 0 is allowed (no malicious client), 1 and above are not") {
    val none = attack("sign-flip", clients = 10, fraction = 0.0)
    assert(none.count == 0 && (0 until 10).forall(k => !none.isMalicious(k)))
    for (fraction <- Seq(1.0, -0.1)) {
      val error = intercept[IllegalArgumentException](attack("sign-flip", clients = 10, fraction = fraction))
      assert(error.getMessage.contains("train.attack.fraction"), error.getMessage)
    }
  }

  test("rule parameters at their bounds: Krum's f in [0, 0.5), the trim in [0, 0.5), the norm bound positive") {
    // f = 0: each score sums the m - 2 = 3 nearest squared distances (d^2 as in the Krum test above)
    // 0: 73+104+122=299, 1: 2+13+122=137, 2: 2+5+104=111, 3: 5+13+73=91, 4: 9217+9418+9620 -> client 3
    assert(new Krum(0.0, 1).combine(five).toSeq == Seq(4f, 2f))
    // Multi-Krum of m - f = 5: the plain mean
    assert(new Krum(0.0, 0).combine(five).toSeq == Seq(22f, 2.8f))
    for (byzantine <- Seq(0.5, -0.1)) {
      assert(intercept[IllegalArgumentException](new Krum(byzantine, 1)).getMessage.contains("train.robust.byzantine"))
    }
    for (trim <- Seq(0.5, -0.1)) {
      assert(intercept[IllegalArgumentException](new TrimmedMean(trim)).getMessage.contains("train.robust.trim"))
    }
    for (bound <- Seq(0.0, -1.0)) {
      assert(intercept[IllegalArgumentException](new NormBounding(bound)).getMessage.contains("train.robust.norm-bound"))
    }
  }

  test("a trimmed mean that leaves exactly one update per coordinate is the median") {
    // beta = 0.4: m = 3 -> floor(1.2) = 1 at each end; m = 5 -> floor(2.0) = 2 at each end; one value left
    assert(new TrimmedMean(0.4).combine(entries(Seq(5f, -1f), Seq(1f, 7f), Seq(3f, 2f))).toSeq == Seq(3f, 2f))
    assert(new TrimmedMean(0.4).combine(five).toSeq == Seq(3f, 2f))
    assert(new TrimmedMean(0.2).combine(entries(Seq(7f, -3f))).toSeq == Seq(7f, -3f)) // m = 1: nothing trimmed
  }

  private def withLoss(client: Int, n: Long, loss: Double, values: Float*) =
    ClientResult.weightedByExamples(client, n, values.toArray, loss * n, n)

  test("client vectors: a merge adds the partials' examples, clients, bytes and losses, keeps every served client, and lists the updates by client") {
    val left = new ClientVectors().add(withLoss(3, 2, 0.5, 1f, 2f)).add(withLoss(1, 4, 0.5, 0f, -1f))
    val right = new ClientVectors().add(withLoss(2, 6, 0.2, 5f, 5f)).add(ClientResult.empty(0))
    // each partial alone: clients with examples only
    assert(left.examples() == 6 && left.clients() == 2 && left.bytes() == 2 * 2 * 4)
    assert(math.abs(left.meanLoss() - 0.5) < 1e-12, left.meanLoss())
    assert(right.examples() == 6 && right.clients() == 1 && right.bytes() == 2 * 4 && right.entries().asScala.map(_.client) == Seq(2))
    assert(right.served().asScala.map(_.client).sorted == Seq(0, 2))
    val merged = left.merge(right)
    assert(merged.examples() == 12 && merged.clients() == 3)
    assert(merged.bytes() == 3 * 2 * 4) // three clients with examples, two floats each
    assert(math.abs(merged.meanLoss() - 0.35) < 1e-12, merged.meanLoss()) // (2 * 0.5 + 4 * 0.5 + 6 * 0.2) / 12
    assert(merged.served().asScala.map(_.client).sorted == Seq(0, 1, 2, 3))
    assert(merged.served().asScala.find(_.client == 2).get.examples == 6)
    val byClient = merged.entries().asScala
    assert(byClient.map(_.client) == Seq(1, 2, 3) && byClient.map(_.weight) == Seq(4.0, 6.0, 2.0))
    assert(byClient.map(_.update().toSeq) == Seq(Seq(0f, -1f), Seq(5f, 5f), Seq(1f, 2f)))
    val fresh = merged.fresh()
    assert(fresh.clients() == 0 && fresh.examples() == 0 && fresh.bytes() == 0 && fresh.served().isEmpty && fresh.entries().isEmpty)
    assert(fresh.meanLoss().isNaN)
    assert(fresh.add(withLoss(1, 2, 0.5, 1f, 1f)).clients() == 1)
    val retried = intercept[IllegalStateException](merged.merge(new ClientVectors().add(withLoss(1, 2, 0.5, 1f, 1f))))
    assert(retried.getMessage.contains("client 1 counted twice"), retried.getMessage)
    val twice = intercept[IllegalStateException](new ClientVectors().add(ClientResult.empty(5)).add(ClientResult.empty(5)))
    assert(twice.getMessage.contains("client 5 counted twice"), twice.getMessage)
  }

  test("the robust strategy with the mean rule and no attack is FedAvg (to float precision); a merge order does not change it") {
    val shards = (0 until 6).map(k => shard(k, 10 + 5 * k, k))
    val settings = new TrainSettings("logreg", 2, 1.0, 1, 10, 0.05, 4L, "robust", 1, TrainSettings.LocalStep.AUTO)
    val robust = TestRuns.strategyWith(settings, spec, shards.map(_.size.toLong).toArray, "robust.rule = mean")
      .asInstanceOf[Strategy[ClientVectors]]
    val input = new RoundInput(1, start, java.util.Map.of(), null)
    val update = robust.clientUpdate()
    val results = shards.map(s => update.update(s, input, NoState))
    val forward = results.foldLeft(robust.newAggregate())((a, r) => a.add(r))
    val backward = results.reverse.map(r => robust.newAggregate().add(r)).reduce((a, b) => a.merge(b))
    val next = robust.serverStep(1, start, forward)
    assert(next.sameElements(robust.serverStep(1, start, backward)))
    val fedavg = TestRuns.strategyWith(new TrainSettings("logreg", 2, 1.0, 1, 10, 0.05, 4L, "fedavg", 1, TrainSettings.LocalStep.AUTO),
      spec, shards.map(_.size.toLong).toArray, "").asInstanceOf[Strategy[WeightedSum]]
    val plain = fedavg.serverStep(1, start, shards.foldLeft(fedavg.newAggregate())((a, s) => a.add(fedavg.clientUpdate().update(s, input, NoState))))
    assert(next.zip(plain).forall { case (a, b) => math.abs(a - b) < 1e-6 })
    val error = intercept[IllegalArgumentException](TestRuns.strategyWith(settings, spec, Array.fill(6)(10L), "robust.rule = mode"))
    assert(error.getMessage.contains("train.robust.rule"))
  }

  // A real round of the robust strategy: six clients of unequal n_k, two of them Byzantine under each attack. The
  // expectation is built in double from each client's update trained by hand (HandSgd), attacked by hand, and combined
  // by each rule written out here.
  private val six = Seq(12, 20, 31, 45, 17, 60).zipWithIndex.map { case (n, k) => shard(k, n, 100L + k) }
  private val x0 = start.map(_.toDouble)
  private def handDelta(s: ClientShard): Array[Double] = {
    val (w, _) = HandSgd.train(s, x0, classes, 1, 10, 4L, 1, HandSgd.Rule(0.05))
    w.indices.map(k => w(k) - x0(k)).toArray
  }
  private lazy val honestDeltas = six.map(handDelta)
  private lazy val flippedDeltas = six.map(s => handDelta(new ClientShard(s.client, s.featureSize, s.features, s.labels.map(y => classes - 1 - y))))

  private def squaredDistance(a: Array[Double], b: Array[Double]) = a.indices.map(j => (a(j) - b(j)) * (a(j) - b(j))).sum
  private def norm(a: Array[Double]) = math.sqrt(a.map(v => v * v).sum)
  private def column(updates: Seq[Array[Double]], j: Int) = updates.map(_(j)).sorted

  /** Each rule by hand on the received updates (by client) and their weights n_k. */
  private def byHand(rule: String, updates: Seq[Array[Double]], n: Seq[Double], bound: Double): Array[Double] = {
    val m = updates.size
    val d = updates.head.length
    def meanOf(chosen: Seq[Int]) = Array.tabulate(d)(j => chosen.map(updates(_)(j)).sum / chosen.size)
    def krumOrder = { // f = floor(0.34 m); score: the m - f - 2 smallest squared distances to the others
      val f = math.floor(0.34 * m).toInt
      val scores = (0 until m).map(a => (0 until m).filter(_ != a).map(b => squaredDistance(updates(a), updates(b))).sorted.take(m - f - 2).sum)
      (0 until m).sortBy(a => (scores(a), a))
    }
    rule match {
      case "mean" => Array.tabulate(d)(j => updates.indices.map(i => n(i) * updates(i)(j)).sum / n.sum)
      case "median" => Array.tabulate(d) { j => val c = column(updates, j); if (m % 2 == 1) c(m / 2) else (c(m / 2 - 1) + c(m / 2)) / 2 }
      case "trimmed-mean" => Array.tabulate(d) { j => val c = column(updates, j).slice(1, m - 1); c.sum / c.size } // floor(0.2 x 6) = 1 each end
      case "krum" => updates(krumOrder.head).clone()
      case "multi-krum" => meanOf(krumOrder.take(3))
      case "norm-bounding" =>
        val scaled = updates.map(u => { val s = math.min(1.0, bound / norm(u)); u.map(_ * s) })
        Array.tabulate(d)(j => scaled.indices.map(i => n(i) * scaled(i)(j)).sum / n.sum)
    }
  }

  for (kind <- Seq("none", "sign-flip", "scale", "gaussian", "label-flip", "little-is-enough")) {
    test(s"every robust rule in a round of clients of unequal n_k, attack $kind: the rule applied by hand to the clients' updates") {
      val attackBlock = s"attack { kind = $kind, fraction = 0.34, scale = 10, noise-std = 0.01, z = 1.5 }"
      val malicious = new Attack(TestRuns.trainBlock(attackBlock).getConfig("attack"), 6, classes, 4L)
      val bad = (0 until 6).filter(malicious.isMalicious)
      assert(bad.size == (if (kind == "none") 0 else 2))
      val n = six.map(_.size.toDouble)
      val settings = new TrainSettings("logreg", 1, 1.0, 1, 10, 0.05, 4L, "robust", 1, TrainSettings.LocalStep.AUTO)
      def round(rule: String, bound: Double): (Array[Float], Seq[Array[Float]]) = {
        val robust = TestRuns.strategyWith(settings, spec, six.map(_.size.toLong).toArray,
          s"$attackBlock, robust { rule = $rule, trim = 0.2, byzantine = 0.34, multi-krum = 3, norm-bound = $bound }").asInstanceOf[Strategy[ClientVectors]]
        val sampled = robust.sample(1, 6)
        assert(sampled.toSeq == (0 until 6) && robust.metrics().get("malicious") == bad.size)
        val input = new RoundInput(1, start, robust.shared(1, start), null)
        val update = robust.clientUpdate()
        val results = six.map(c => update.update(c, input, NoState))
        (robust.serverStep(1, start, results.foldLeft(robust.newAggregate())(_ add _)), results.map(_.vector))
      }
      val (_, sent) = round("mean", 1.0)
      // what each client sends, by hand (Gaussian noise taken from what was sent, checked to be noise of that size)
      val honest = six.indices.filterNot(bad.contains)
      val received: Seq[Array[Double]] = six.indices.map { k =>
        if (!bad.contains(k)) honestDeltas(k)
        else kind match {
          case "sign-flip" => honestDeltas(k).map(-_)
          case "scale" => honestDeltas(k).map(_ * 10)
          case "label-flip" => flippedDeltas(k)
          case "gaussian" =>
            val noise = sent(k).map(_.toDouble)
            assert(math.abs(norm(noise) / math.sqrt(noise.length) - 0.01) < 0.001 && math.abs(noise.sum / noise.length) < 0.001)
            noise
          case "little-is-enough" => Array.tabulate(x0.length) { j =>
            val values = honest.map(honestDeltas(_)(j))
            val mu = values.sum / values.size
            mu - 1.5 * math.sqrt(values.map(v => (v - mu) * (v - mu)).sum / values.size)
          }
        }
      }
      for (k <- six.indices if kind != "little-is-enough") { // that attack is crafted on the server from the honest updates
        assert(HandSgd.maxDifference(sent(k), received(k)) <= 1e-5, s"client $k sent another update")
      }
      val norms = received.map(norm).sorted
      val bound = (norms(2) + norms(3)) / 2 // three updates above M, three below
      val errors = Seq("mean", "median", "trimmed-mean", "krum", "multi-krum", "norm-bounding").map { rule =>
        val (next, _) = round(rule, bound)
        val hand = byHand(rule, received, n, bound)
        rule -> hand.indices.map(j => math.abs(next(j).toDouble - start(j) - hand(j))).max
      }
      assert(errors.forall(_._2 <= 1e-5), errors.filter(_._2 > 1e-5).map { case (rule, e) => s"rule $rule: off by $e" }.mkString("; "))
    }
  }
}
