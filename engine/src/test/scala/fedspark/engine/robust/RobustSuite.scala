package fedspark.engine.robust

import scala.collection.JavaConverters._

import com.typesafe.config.ConfigFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.strategy.{RoundInput, Strategy}

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
}
