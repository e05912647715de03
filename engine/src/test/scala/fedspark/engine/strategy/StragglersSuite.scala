package fedspark.engine.strategy

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{HandSgd, ModelSpec, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.state.ClientState
import fedspark.models.{FlatParameters, InputShape}

/**
 * FedProx's stragglers (litian96/FedProx, flearn/trainers/fedavg.py and fedprox.py): of a round's m sampled clients,
 * round(m (1 - fraction)) run E epochs and the others a random number in [1, E); FedAvg drops them, FedProx keeps their
 * partial work; both get the same stragglers.
 */
class StragglersSuite extends AnyFunSuite {

  private val lr = 0.1
  private val spec = new ModelSpec("logreg", InputShape.ofFlatSize(4), 3, lr)
  private val x0 = FlatParameters.of(spec.newNetwork(2L))
  private val k = 30
  private val e = 20
  private val b = 10
  private val shards = (0 until k).map { c =>
    val random = new scala.util.Random(c)
    val n = 5 + random.nextInt(60)
    new ClientShard(c, 4, Array.fill(n * 4)(random.nextFloat()), Array.fill(n)(random.nextInt(3)))
  }
  private val sizes = shards.map(_.size.toLong).toArray

  private def settings(algorithm: String, epochs: Int = e) =
    new TrainSettings("logreg", 50, 1.0 / 3, epochs, b, lr, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO, 0.0, 0.0)

  private def strategy(algorithm: String, fraction: Double, epochs: Int = e): Strategy[WeightedSum] =
    TestRuns.strategyWith(settings(algorithm, epochs), spec, sizes, s"stragglers.fraction = $fraction, fedprox.mu = 0")
      .asInstanceOf[Strategy[WeightedSum]]

  private object NoState extends ClientState {
    override def get(name: String): Array[Float] = null
    override def put(name: String, values: Array[Float]): Unit = ()
  }

  test("FedAvg and FedProx get the same stragglers: FedAvg keeps the others, FedProx all m with the stragglers' budgets") {
    for ((fraction, stragglers) <- Seq(0.5 -> 5, 0.9 -> 9)) {
      val fedavg = strategy("fedavg", fraction)
      val fedprox = strategy("fedprox", fraction).asInstanceOf[FedAvg]
      val plain = strategy("fedavg", 0)
      for (round <- 1 to 50) {
        val sampled = plain.sample(round, k)
        assert(sampled.length == 10)
        val kept = fedavg.sample(round, k)
        assert(fedprox.sample(round, k).sameElements(sampled), "FedProx trains every sampled client")
        val partial = fedprox.stragglerBudgets().asScala.keySet.map(_.intValue)
        assert(partial.size == stragglers && kept.length == 10 - stragglers)
        assert(kept.toSet ++ partial == sampled.toSet && (kept.toSet & partial).isEmpty, s"round $round")
        assert(fedavg.metrics().get("stragglers") == stragglers.toDouble)
      }
    }
    // and they change from round to round
    val fedprox = strategy("fedprox", 0.5).asInstanceOf[FedAvg]
    val sets = (1 to 10).map { r => fedprox.sample(r, k); fedprox.stragglerBudgets().keySet.asScala.toSet }
    assert(sets.distinct.size > 5)
  }

  test("a straggler runs a whole number of epochs in [1, E), uniformly: budgets of e ceil(n_k / B) steps") {
    val fedprox = strategy("fedprox", 0.9).asInstanceOf[FedAvg]
    val epochs = (1 to 300).flatMap { round =>
      fedprox.sample(round, k)
      fedprox.stragglerBudgets().asScala.map { case (c, steps) =>
        val perEpoch = (sizes(c) + b - 1) / b
        assert(steps % perEpoch == 0, s"client $c: $steps steps, $perEpoch an epoch")
        (steps / perEpoch).toInt
      }
    }
    assert(epochs.min == 1 && epochs.max == e - 1, s"epochs from ${epochs.min} to ${epochs.max}")
    val counts = epochs.groupBy(identity).map { case (v, vs) => v -> vs.size }
    val expected = epochs.size.toDouble / (e - 1)
    assert(counts.size == e - 1 && counts.values.forall(c => math.abs(c - expected) < 4.5 * math.sqrt(expected)), s"$counts")
    assert(intercept[IllegalArgumentException](strategy("fedprox", 0.5, epochs = 1)).getMessage.contains("E >= 2"))
  }

  test("a round with stragglers: FedProx's model from their partial epochs (by hand), FedAvg's from the others alone") {
    val round = 3
    for (algorithm <- Seq("fedprox", "fedavg")) {
      val s = strategy(algorithm, 0.5)
      val sampled = s.sample(round, k)
      val input = new RoundInput(round, x0, s.shared(round, x0), null)
      val update = s.clientUpdate()
      val next = s.serverStep(round, x0, sampled.foldLeft(s.newAggregate())((agg, c) => agg.add(update.update(shards(c), input, NoState))))
      val all = strategy("fedavg", 0).sample(round, k)
      val budgets = strategy("fedprox", 0.5).asInstanceOf[FedAvg]
      budgets.sample(round, k)
      val partial = budgets.stragglerBudgets().asScala.map { case (c, steps) => c.intValue -> (steps / ((sizes(c) + b - 1) / b)).toInt }
      val w = x0.map(_.toDouble)
      val trained = all.map { c =>
        val epochs = partial.getOrElse(c, e)
        c -> HandSgd.train(shards(c), w, 3, epochs, b, 4L, round, HandSgd.Rule(lr))._1
      }.filter { case (c, _) => algorithm == "fedprox" || !partial.contains(c) }
      val n = trained.map { case (c, _) => sizes(c).toDouble }.sum
      val hand = w.indices.map(j => trained.map { case (c, m) => sizes(c) * m(j) }.sum / n).toArray
      assert(HandSgd.maxDifference(next, hand) <= 1e-5, s"$algorithm: ${HandSgd.maxDifference(next, hand)}")
    }
  }

  test("the stragglers are a seeded shuffle's last: the smallest and the largest sampled id each straggle in about half the rounds") {
    val fedprox = strategy("fedprox", 0.5).asInstanceOf[FedAvg]
    val rounds = 400
    val (smallest, largest) = (1 to rounds).map { round =>
      val sampled = fedprox.sample(round, k)
      val partial = fedprox.stragglerBudgets().keySet.asScala.map(_.intValue)
      (partial.contains(sampled.min), partial.contains(sampled.max))
    }.unzip
    for ((name, hits) <- Seq("smallest" -> smallest, "largest" -> largest)) {
      val count = hits.count(identity)
      assert(math.abs(count - rounds / 2.0) <= 4.5 * math.sqrt(rounds / 4.0), s"the $name sampled id straggled in $count of $rounds rounds")
    }
  }

  test("FedAvg keeps the others in ascending order and reports them; without stragglers there is no such column") {
    val fedavg = strategy("fedavg", 0.5)
    for (round <- 1 to 20) {
      val kept = fedavg.sample(round, k)
      assert(kept.sorted.sameElements(kept), s"round $round: ${kept.toSeq}")
    }
    assert(fedavg.metrics().get("stragglers") == 5.0)
    assert(!strategy("fedavg", 0).metrics().containsKey("stragglers"))
  }

  test("the fraction's range: 1 refused even where stragglers are kept; E = 2 is enough; FedAvg refuses a fraction that drops every client") {
    def error(f: => Any) = intercept[IllegalArgumentException](f).getMessage
    assert(error(strategy("fedprox", 1.0)).contains("[0, 1)"))
    assert(error(strategy("fedprox", -0.1)).contains("[0, 1)"))
    // E = 2: a straggler runs exactly 1 epoch
    val two = strategy("fedprox", 0.5, epochs = 2).asInstanceOf[FedAvg]
    two.sample(1, k)
    assert(two.stragglerBudgets().asScala.forall { case (c, steps) => steps == (sizes(c) + b - 1) / b })
    strategy("fedavg", 0.5, epochs = 2)
    // m = 10: round(10 * 0.04) = 0 clients would be left to FedAvg; FedProx keeps them all
    assert(error(strategy("fedavg", 0.96)).contains("leaves none of the 10"))
    strategy("fedprox", 0.96)
    strategy("fedavg", 0.94) // round(0.6) = 1 client left
  }
}
