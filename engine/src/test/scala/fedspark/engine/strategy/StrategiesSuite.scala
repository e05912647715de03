package fedspark.engine.strategy

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{HandSgd, ModelSpec, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.state.ClientState
import fedspark.models.{FlatParameters, InputShape}

/** Each algorithm against its equations, driven round by round without Spark (the round's Spark job is FederatedRunSuite's). */
class StrategiesSuite extends AnyFunSuite {

  private val classes = 10
  private val d = 784
  private val lr = 0.05

  private def shard(client: Int, n: Int, seed: Long): ClientShard = {
    val random = new scala.util.Random(seed)
    new ClientShard(client, d, Array.fill(n * d)(random.nextFloat()), Array.fill(n)(random.nextInt(classes)))
  }

  private val spec = new ModelSpec("logreg", InputShape.MNIST, classes, lr)
  private lazy val start = FlatParameters.of(spec.newNetwork(2L))

  private def settings(algorithm: String, e: Int = 2, b: Int = 10, momentum: Double = 0, weightDecay: Double = 0) =
    new TrainSettings("logreg", 3, 1.0, e, b, lr, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO, momentum, weightDecay)

  /** A client's state kept in memory between rounds, as the store keeps it on an executor. */
  private class MemoryState extends ClientState {
    val vectors = scala.collection.mutable.Map[String, Array[Float]]()
    override def get(name: String): Array[Float] = vectors.get(name).orNull
    override def put(name: String, values: Array[Float]): Unit = vectors(name) = values
  }

  /** Rounds 1..rounds of `strategy` over all `shards` (C = 1); the global model after each round. */
  private def run(strategy: Strategy[_], shards: Seq[ClientShard], rounds: Int,
                  states: Map[Int, MemoryState] = Map()): Seq[Array[Float]] = {
    val s = strategy.asInstanceOf[Strategy[WeightedSum]]
    val update = s.clientUpdate()
    var global = start
    (1 to rounds).map { round =>
      val input = new RoundInput(round, global, s.shared(round, global), null)
      val sum = shards.foldLeft(s.newAggregate())((agg, shard) =>
        agg.add(update.update(shard, input, states.getOrElse(shard.client, new MemoryState))))
      global = s.serverStep(round, global, sum)
      global
    }
  }

  private def strategy(algorithm: String, options: String = "", shards: Int = 2, e: Int = 2, b: Int = 10, momentum: Double = 0) =
    TestRuns.strategy(settings(algorithm, e, b, momentum), spec, shards, options)

  private val two = Seq(shard(0, 40, 1L), shard(1, 70, 2L)) // unequal sizes: 8 and 14 local steps at E = 2, B = 10

  test("every algorithm is registered by its name") {
    assert(Strategies.names().asScala.toSet == Set("fedavg", "fedsgd", "fedprox", "scaffold", "fednova", "fedavgm", "fedadam", "fedyogi",
      "fedadagrad", "robust", "fedbuff", "fedavg-ft", "fedper", "ditto", "qfedavg"))
  }

  test("FedProx with mu = 0 is FedAvg, bit for bit; with mu > 0 it differs") {
    val fedavg = run(strategy("fedavg"), two, 2)
    assert(run(strategy("fedprox", "mu = 0"), two, 2).zip(fedavg).forall { case (a, b) => a.sameElements(b) })
    assert(!run(strategy("fedprox", "mu = 0.5"), two, 1).head.sameElements(fedavg.head))
  }

  test("FedProx: one client's update against a hand computation of SGD on loss + (mu / 2) ||w - w_global||^2") {
    val mu = 0.5
    val client = shard(3, 45, 5L)
    val result = strategy("fedprox", s"mu = $mu").clientUpdate()
      .update(client, new RoundInput(1, start, java.util.Map.of(), null), new MemoryState)
    val global = start.map(_.toDouble)
    val (hand, _) = HandSgd.train(client, global, classes, 2, 10, 4L, 1, HandSgd.Rule(lr, proximalMu = mu, anchor = global))
    val (plain, _) = HandSgd.train(client, global, classes, 2, 10, 4L, 1, HandSgd.Rule(lr))
    assert(HandSgd.maxDifference(result.vector, hand) <= 1e-5)
    assert(HandSgd.maxDifference(result.vector, plain) > 1e-3, "the proximal term must change the update")
    assert(result.weight == 45 && result.examples == 45)
  }

  test("SCAFFOLD (option II): its first round is FedAvg bit for bit; c_i and c after two rounds against a hand computation") {
    val states = Map(0 -> new MemoryState, 1 -> new MemoryState)
    val scaffold = strategy("scaffold", "server-lr = 1.0", shards = 3) // N = 3 clients, 2 of them sampled
    val globals = run(scaffold, two, 2, states)
    assert(globals.head.sameElements(run(strategy("fedavg"), two, 1).head))

    // By hand, in double. N = 3 clients, two sampled; K_i local steps; y_i the client model after them.
    val n = two.map(_.size.toDouble)
    var x = start.map(_.toDouble)
    var c = new Array[Double](x.length)
    val ci = Array.fill(2)(new Array[Double](x.length))
    for (round <- 1 to 2) {
      val trained = two.indices.map { i =>
        val correction = x.indices.map(k => c(k) - ci(i)(k)).toArray
        HandSgd.train(two(i), x, classes, 2, 10, 4L, round, HandSgd.Rule(lr, correction = if (round == 1) null else correction))
      }
      val next = two.indices.map(i => x.indices.map(k => ci(i)(k) - c(k) + (x(k) - trained(i)._1(k)) / (trained(i)._2 * lr)).toArray)
      val deltaC = x.indices.map(k => two.indices.map(i => next(i)(k) - ci(i)(k)).sum / 3).toArray
      x = x.indices.map(k => two.indices.map(i => n(i) * trained(i)._1(k)).sum / n.sum).toArray
      c = c.indices.map(k => c(k) + deltaC(k)).toArray
      for (i <- two.indices) ci(i) = next(i)
    }
    assert(HandSgd.maxDifference(globals(1), x) <= 1e-5)
    val serverC = scaffold.state().get("c")
    assert(HandSgd.maxDifference(serverC, c) <= 1e-5 && c.map(math.abs).max > 1e-3, s"c: ${c.map(math.abs).max}")
    for (i <- two.indices) assert(HandSgd.maxDifference(states(i).vectors("c"), ci(i)) <= 1e-5, s"c_$i")
  }

  test("FedNova with equal local step counts is FedAvg") {
    val equal = Seq(shard(0, 50, 1L), shard(1, 50, 2L))
    val nova = run(strategy("fednova"), equal, 2)
    val fedavg = run(strategy("fedavg"), equal, 2)
    for ((a, b) <- nova.zip(fedavg)) assert(FlatParameters.maxAbsDifference(a, b) <= 1e-6)
  }

  test("FedNova with unequal step counts and momentum against a hand computation; it differs from FedAvg") {
    val rho = 0.5
    val nova = run(strategy("fednova", momentum = rho), two, 1).head
    val x = start.map(_.toDouble)
    val trained = two.map(s => HandSgd.train(s, x, classes, 2, 10, 4L, 1, HandSgd.Rule(lr, momentum = rho)))
    val a = trained.map { case (_, tau) => (tau - rho * (1 - math.pow(rho, tau)) / (1 - rho)) / (1 - rho) }
    val p = two.map(_.size.toDouble / two.map(_.size).sum)
    val tauEff = p.zip(a).map { case (pi, ai) => pi * ai }.sum
    val hand = x.indices.map(k => x(k) - tauEff * two.indices.map(i => p(i) * (x(k) - trained(i)._1(k)) / a(i)).sum).toArray
    assert(HandSgd.maxDifference(nova, hand) <= 1e-5)
    val fedavg = run(strategy("fedavg", momentum = rho), two, 1).head
    assert(FlatParameters.maxAbsDifference(nova, fedavg) > 1e-4)
  }

  test("FedAvgM with server momentum 0 and server lr 1 is FedAvg bit for bit; with momentum it differs") {
    val fedavg = run(strategy("fedavg"), two, 3)
    assert(run(strategy("fedavgm", "server-lr = 1.0, server-momentum = 0"), two, 3).zip(fedavg).forall { case (a, b) => a.sameElements(b) })
    assert(!run(strategy("fedavgm", "server-lr = 1.0, server-momentum = 0.9"), two, 3)(2).sameElements(fedavg(2)))
  }

  test("FedAvgM over three rounds against server momentum by hand: v = beta v + Delta, x += eta v (not an average of Deltas)") {
    val (eta, beta) = (0.7, 0.9)
    val globals = run(strategy("fedavgm", s"server-lr = $eta, server-momentum = $beta"), two, 3)
    var x = start.map(_.toDouble)
    val v = new Array[Double](x.length)
    val n = two.map(_.size.toDouble)
    for (round <- 1 to 3) {
      val y = two.map(s => HandSgd.train(s, x, classes, 2, 10, 4L, round, HandSgd.Rule(lr))._1)
      val average = x.indices.map(k => two.indices.map(i => n(i) * y(i)(k)).sum / n.sum).toArray
      for (k <- x.indices) v(k) = beta * v(k) + (average(k) - x(k))
      x = x.indices.map(k => x(k) + eta * v(k)).toArray
      assert(HandSgd.maxDifference(globals(round - 1), x) <= 1e-5, s"round $round: ${HandSgd.maxDifference(globals(round - 1), x)}")
    }
  }

  /** Tiny data (4 features, 3 classes) for runs of many local steps. */
  private val tinySpec = new ModelSpec("logreg", InputShape.ofFlatSize(4), 3, lr)
  private def tinyShard(client: Int, n: Int, seed: Long): ClientShard = {
    val random = new scala.util.Random(seed)
    new ClientShard(client, 4, Array.fill(n * 4)(random.nextFloat()), Array.fill(n)(random.nextInt(3)))
  }

  /**
   * One FedNova round over `shards` (B = 1, momentum rho) and the same round by hand in double from the client models
   * y_i that FedAvg's clients (the same local training) return: x - tau_eff sum_i p_i (x - y_i) / a_i.
   */
  private def novaAgainstHand(shards: Seq[ClientShard], e: Int, rho: Double): (Array[Float], Array[Double]) = {
    def settings1(algorithm: String) =
      new TrainSettings("logreg", 1, 1.0, e, 1, lr, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO, rho, 0.0)
    val sizes = shards.map(_.size.toLong).toArray
    val x0 = FlatParameters.of(tinySpec.newNetwork(2L))
    def round(s: Strategy[_]): WeightedSum = {
      val update = s.clientUpdate()
      val input = new RoundInput(1, x0, java.util.Map.of(), null)
      shards.foldLeft(s.asInstanceOf[Strategy[WeightedSum]].newAggregate())((agg, c) => agg.add(update.update(c, input, new MemoryState)))
    }
    val nova = TestRuns.strategyWith(settings1("fednova"), tinySpec, sizes, "").asInstanceOf[Strategy[WeightedSum]]
    val next = nova.serverStep(1, x0, round(nova))
    val x = x0.map(_.toDouble)
    val ys = shards.map { c => // y_i as FedAvg's client returns it
      val fedavg = TestRuns.strategyWith(settings1("fedavg"), tinySpec, sizes, "")
      fedavg.clientUpdate().update(c, new RoundInput(1, x0, java.util.Map.of(), null), new MemoryState).vector.map(_.toDouble)
    }
    val tau = shards.map(c => e * c.size) // B = 1: E n_i steps
    val a = tau.map(t => if (rho == 0) t.toDouble else (t - rho * (1 - math.pow(rho, t)) / (1 - rho)) / (1 - rho))
    val p = shards.map(_.size.toDouble / shards.map(_.size).sum)
    val tauEff = p.zip(a).map { case (pi, ai) => pi * ai }.sum
    val hand = x.indices.map(k => x(k) - tauEff * shards.indices.map(i => p(i) * (x(k) - ys(i)(k)) / a(i)).sum).toArray
    (next, hand)
  }

  test("FedNova's sums stay in range where n tau_eff passes 2^30, and its step is exact to float precision at a million local steps") {
    // n_1 a_1 + n_2 a_2 = 30000^2 + 20000^2 = 1.3e9 > 2^30: a_i weighted by n_i left the fixed-point range here
    val (big, bigHand) = novaAgainstHand(Seq(tinyShard(0, 30000, 1L), tinyShard(1, 20000, 2L)), 1, 0.5)
    assert(HandSgd.maxDifference(big, bigHand) <= 1e-6, s"${HandSgd.maxDifference(big, bigHand)}")
    // tau_eff about 5.8e5 within range: d_i rounded to 2^-32 before tau_eff multiplied it was off by up to 1e-4
    val (long, longHand) = novaAgainstHand(Seq(tinyShard(0, 700, 3L), tinyShard(1, 300, 4L)), 1000, 0.0)
    assert(HandSgd.maxDifference(long, longHand) <= 1e-6, s"${HandSgd.maxDifference(long, longHand)}")
    assert(longHand.indices.map(k => math.abs(longHand(k) - FlatParameters.of(tinySpec.newNetwork(2L))(k))).max > 1e-3, "the round moved the model")
  }

  test("Ditto: the personal model's step has the proximal term lambda (v - w) towards the global model received, and carries over rounds") {
    val lambda = 2.0
    val personalSeed = fedspark.engine.Seeds.mix(4L, fedspark.engine.Seeds.PERSONAL)
    def ditto(l: Double) = strategy("ditto", s"lambda = $l, epochs = 0")
    val after1 = Map(0 -> new MemoryState, 1 -> new MemoryState)
    val globals1 = run(ditto(lambda), two, 1, after1)
    val after2 = Map(0 -> new MemoryState, 1 -> new MemoryState)
    val globals2 = run(ditto(lambda), two, 2, after2)
    assert(globals2.zip(run(strategy("fedavg"), two, 2)).forall { case (a, b) => a.sameElements(b) }, "the global model is FedAvg's")
    val x1 = start.map(_.toDouble)
    val x2 = globals1.head.map(_.toDouble)
    for (i <- two.indices) {
      // round 1: v starts at the global model it received; round 2: at its round-1 v, pulled towards the round-2 global
      val (v1, _) = HandSgd.train(two(i), x1, classes, 2, 10, personalSeed, 1, HandSgd.Rule(lr, proximalMu = lambda, anchor = x1))
      val (v2, _) = HandSgd.train(two(i), v1, classes, 2, 10, personalSeed, 2, HandSgd.Rule(lr, proximalMu = lambda, anchor = x2))
      assert(HandSgd.maxDifference(after1(i).vectors("personal"), v1) <= 1e-5, s"client $i round 1")
      assert(HandSgd.maxDifference(after2(i).vectors("personal"), v2) <= 1e-5, s"client $i round 2")
      val (noProximal, _) = HandSgd.train(two(i), v1, classes, 2, 10, personalSeed, 2, HandSgd.Rule(lr))
      val (fromGlobal, _) = HandSgd.train(two(i), x2, classes, 2, 10, personalSeed, 2, HandSgd.Rule(lr, proximalMu = lambda, anchor = x2))
      assert(HandSgd.maxDifference(after2(i).vectors("personal"), noProximal) > 1e-3, "lambda must change the step")
      assert(HandSgd.maxDifference(after2(i).vectors("personal"), fromGlobal) > 1e-3, "v must carry over from round 1")
    }
  }

  /** Three rounds of a server optimizer on given client vectors, and Reddi et al.'s Algorithm 2 by hand. */
  private def serverOptimizer(algorithm: String, secondMoment: (Double, Double) => Double): Array[Float] = {
    val (eta, beta1, beta2, tau) = (0.03, 0.9, 0.99, 1e-3)
    val s = strategy(algorithm, s"server-lr = $eta, beta1 = $beta1, beta2 = $beta2, tau = $tau").asInstanceOf[Strategy[WeightedSum]]
    val random = new scala.util.Random(11)
    val length = 50
    var global = Array.fill(length)(random.nextGaussian().toFloat * 0.1f)
    var x = global.map(_.toDouble)
    val m = new Array[Double](length)
    val v = Array.fill(length)(tau * tau)
    for (round <- 1 to 3) {
      val clients = Seq(30L, 70L).zipWithIndex.map { case (n, k) =>
        ClientResult.weightedByExamples(k, n, global.map(w => w + random.nextGaussian().toFloat * 0.02f), 0, 0)
      }
      val sum = clients.foldLeft(s.newAggregate())(_ add _)
      val average = clients.map(r => r.vector.map(_.toDouble * r.examples)).reduce((a, b) => a.zip(b).map(t => t._1 + t._2)).map(_ / 100)
      global = s.serverStep(round, global, sum)
      for (k <- 0 until length) {
        val delta = average(k) - x(k)
        m(k) = beta1 * m(k) + (1 - beta1) * delta
        v(k) = secondMoment(v(k), delta * delta)
        x(k) = x(k) + eta * m(k) / (math.sqrt(v(k)) + tau)
      }
      assert(HandSgd.maxDifference(global, x) <= 1e-6, s"$algorithm round $round: ${HandSgd.maxDifference(global, x)}")
    }
    assert(s.state().keySet().asScala == Set("m", "v"))
    global
  }

  test("FedAdam, FedYogi and FedAdagrad over three rounds against the update equations of Reddi et al. (2021)") {
    val beta2 = 0.99
    val adam = serverOptimizer("fedadam", (v, d2) => beta2 * v + (1 - beta2) * d2)
    val yogi = serverOptimizer("fedyogi", (v, d2) => v - (1 - beta2) * d2 * math.signum(v - d2))
    val adagrad = serverOptimizer("fedadagrad", (v, d2) => v + d2)
    assert(!adam.sameElements(yogi) && !adam.sameElements(adagrad) && !yogi.sameElements(adagrad))
  }

  test("a strategy's settings are checked: a missing or impossible setting names the block") {
    def error(f: => Any) = intercept[IllegalArgumentException](f).getMessage
    assert(error(strategy("fedprox", "mu = -1")).contains("train.fedprox.mu"))
    assert(error(strategy("fedprox")).contains("train.fedprox"))
    assert(error(strategy("fedadam", "server-lr = 0.1, beta1 = 1.5, beta2 = 0.9, tau = 0.001")).contains("train.fedadam"))
  }

  test("server state survives a checkpoint: a strategy restored from another's state steps identically") {
    val original = strategy("fedadam", "server-lr = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 0.001").asInstanceOf[Strategy[WeightedSum]]
    run(original, two, 2)
    val copy = strategy("fedadam", "server-lr = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 0.001").asInstanceOf[Strategy[WeightedSum]]
    copy.restore(original.state())
    val results = two.map(s => ClientResult.weightedByExamples(s.client, s.size, start.map(_ + 0.01f), 0, 0))
    val a = original.serverStep(3, start, results.foldLeft(original.newAggregate())(_ add _))
    val b = copy.serverStep(3, start, results.foldLeft(copy.newAggregate())(_ add _))
    assert(a.sameElements(b))
    assert(intercept[IllegalArgumentException](strategy("scaffold", "server-lr = 1").restore(original.state())).getMessage.contains("control variate"))
  }

  /** Rounds 1..rounds of a strategy built on the train block (sample, shared, setup as the driver calls them); the models. */
  private def runSampled(s: Strategy[WeightedSum], shards: Seq[ClientShard], x0: Array[Float], rounds: Seq[Int]): Seq[Array[Float]] = {
    var global = x0
    rounds.map { round =>
      val sampled = s.sample(round, shards.size)
      val input = new RoundInput(round, global, s.shared(round, global), null, s.setup(round, sampled))
      val update = s.clientUpdate()
      val sum = shards.filter(c => sampled.contains(c.client)).foldLeft(s.newAggregate())((agg, c) => agg.add(update.update(c, input, new MemoryState)))
      global = s.serverStep(round, global, sum)
      global
    }
  }

  private val tinyX0 = FlatParameters.of(tinySpec.newNetwork(2L))

  test("FedSGD (E = 1, B = inf only): each client's mean gradient and loss at the global model, one server step along their n_k-weighted mean") {
    def fedsgd(e: Int, b: Int, momentum: Double = 0) =
      new TrainSettings("logreg", 1, 1.0, e, b, lr, 4L, "fedsgd", 1, TrainSettings.LocalStep.AUTO, momentum, 0.0)
    val shards = Seq(tinyShard(0, 7, 1L), tinyShard(1, 12, 2L), new ClientShard(2, 4, new Array[Float](0), new Array[Int](0)))
    val sizes = shards.map(_.size.toLong).toArray
    def error(s: TrainSettings) = intercept[IllegalArgumentException](TestRuns.strategyWith(s, tinySpec, sizes, "")).getMessage
    assert(error(fedsgd(2, TrainSettings.WHOLE_SHARD)).contains("E = 1"))
    assert(error(fedsgd(1, 10)).contains("B = inf"))
    assert(error(fedsgd(1, TrainSettings.WHOLE_SHARD, momentum = 0.5)).contains("train.momentum"))
    val s = TestRuns.strategyWith(fedsgd(1, TrainSettings.WHOLE_SHARD), tinySpec, sizes, "").asInstanceOf[Strategy[WeightedSum]]
    val update = s.clientUpdate()
    val input = new RoundInput(1, tinyX0, java.util.Map.of(), null)
    val results = shards.map(c => update.update(c, input, new MemoryState))
    assert(results(2).examples == 0 && results(2).weight == 0 && results(2).vector.isEmpty, "an empty shard sends nothing")
    val x = tinyX0.map(_.toDouble)
    // one full-batch step of plain SGD by hand is x - lr g_k: g_k = (x - w_k) / lr, and the loss before it is the mean loss at x
    val hand = shards.take(2).map(c => HandSgd.trainWithLoss(c, x, 3, 1, c.size, 4L, 1, HandSgd.Rule(lr)))
    for (((w, _, loss), (r, c)) <- hand.zip(results.zip(shards))) {
      val gradient = x.indices.map(k => (x(k) - w(k)) / lr).toArray
      assert(HandSgd.maxDifference(r.vector, gradient) <= 1e-5 && gradient.map(math.abs).max > 1e-3, s"client ${c.client}")
      assert(r.weight == c.size && r.lossCount == c.size && math.abs(r.lossSum - loss) <= 1e-5 * c.size, s"client ${c.client}: ${r.lossSum} vs $loss")
    }
    val next = s.serverStep(1, tinyX0, results.foldLeft(s.newAggregate())(_ add _))
    val expected = x.indices.map(k => hand.zip(sizes).map { case ((w, _, _), n) => n * w(k) }.sum / sizes.sum).toArray
    assert(HandSgd.maxDifference(next, expected) <= 1e-6, s"${HandSgd.maxDifference(next, expected)}")
  }

  test("LocalSgd's training loss: each step's batch mean loss before the step times the batch size, summed; the count is E n") {
    val client = tinyShard(1, 7, 3L) // B = 3: batches of 3, 3 and 1 each epoch
    val trained = new LocalSgd(tinySpec, TrainSettings.LocalStep.AUTO, 2, 3, 4L).train(client, tinyX0, fedspark.engine.local.StepRule.sgd(lr), 1)
    val (w, steps, loss) = HandSgd.trainWithLoss(client, tinyX0.map(_.toDouble), 3, 2, 3, 4L, 1, HandSgd.Rule(lr))
    assert(trained.steps == steps && steps == 6)
    assert(HandSgd.maxDifference(trained.parameters, w) <= 1e-6)
    assert(trained.lossCount == 14)
    assert(math.abs(trained.lossSum - loss) <= 1e-5 * 14, s"${trained.lossSum} vs $loss")
    // the loss of the last, one-example batch counts once: not the batch mean times 3
    val budgeted = new LocalSgd(tinySpec, TrainSettings.LocalStep.AUTO, 2, 3, 4L).limitedTo(4).train(client, tinyX0, fedspark.engine.local.StepRule.sgd(lr), 1)
    assert(budgeted.steps == 4 && budgeted.lossCount == 3 + 3 + 1 + 3)
  }

  test("FedNova's normaliser a is the sum over local steps s of (1 - rho^(tau - s)) / (1 - rho), tau without momentum") {
    for (rho <- Seq(0.0, 0.5, 0.9); tau <- 1 to 6) {
      // the coefficient of step s's gradient in x - y: sum_{t = s}^{tau - 1} rho^(t - s)
      val bySteps = (0 until tau).map(s => (s until tau).map(t => math.pow(rho, t - s)).sum).sum
      assert(math.abs(FedNova.normaliser(tau, rho) - bySteps) <= 1e-12 * bySteps, s"tau $tau, rho $rho: ${FedNova.normaliser(tau, rho)} vs $bySteps")
    }
  }

  test("a client result's bytes: 4 per float of its vector and of each named value; 8 per masked word") {
    val r = ClientResult.weightedByExamples(0, 5, new Array[Float](10), 0, 0).`with`("a", 1, 1f).`with`("c", 1, 1f, 2f, 3f)
    assert(r.bytes == 4 * 10 + 4 * 1 + 4 * 3)
    assert(ClientResult.masked(0, new Array[Long](5)).bytes == 40)
    assert(ClientResult.empty(3).bytes == 0)
  }

  test("server optimizers, FedAvgM, SCAFFOLD and Ditto refuse settings at the open ends of their ranges and take the closed ends") {
    def error(f: => Any) = intercept[IllegalArgumentException](f).getMessage
    for (algorithm <- Seq("fedadam", "fedyogi", "fedadagrad")) {
      def opt(lr: String, b1: String, b2: String, tau: String) = strategy(algorithm, s"server-lr = $lr, beta1 = $b1, beta2 = $b2, tau = $tau")
      assert(error(opt("0", "0.9", "0.99", "0.001")).contains(s"train.$algorithm"))
      assert(error(opt("0.1", "1", "0.99", "0.001")).contains(s"train.$algorithm"))
      assert(error(opt("0.1", "-0.1", "0.99", "0.001")).contains(s"train.$algorithm"))
      assert(error(opt("0.1", "0.9", "1", "0.001")).contains(s"train.$algorithm"))
      assert(error(opt("0.1", "0.9", "-0.1", "0.001")).contains(s"train.$algorithm"))
      assert(error(opt("0.1", "0.9", "0.99", "0")).contains(s"train.$algorithm"))
      opt("0.1", "0", "0", "0.001") // beta1 = beta2 = 0: the last Delta alone
    }
    assert(error(strategy("fedavgm", "server-lr = 0, server-momentum = 0.5")).contains("train.fedavgm"))
    assert(error(strategy("fedavgm", "server-lr = 1, server-momentum = 1")).contains("train.fedavgm"))
    assert(error(strategy("scaffold", "server-lr = 0")).contains("train.scaffold.server-lr"))
    assert(error(strategy("ditto", "lambda = -0.5, epochs = 0")).contains("train.ditto.lambda"))
    assert(error(strategy("ditto", "lambda = 1, epochs = -1")).contains("train.ditto.epochs"))
  }

  test("Ditto with lambda = 0 trains the personal model by plain local SGD; a client evaluates it, or the global model before its first round") {
    val personalSeed = fedspark.engine.Seeds.mix(4L, fedspark.engine.Seeds.PERSONAL)
    val ditto = strategy("ditto", "lambda = 0, epochs = 1")
    assert(ditto.keepsClientState())
    val states = Map(0 -> new MemoryState, 1 -> new MemoryState)
    val input = new RoundInput(1, start, java.util.Map.of(), null)
    val fresh = new MemoryState
    assert(ditto.personalization().model(two(0), input, fresh).sameElements(start), "no personal model yet: the global one")
    run(ditto, two, 1, states)
    for (i <- two.indices) {
      val (v, _) = HandSgd.train(two(i), start.map(_.toDouble), classes, 1, 10, personalSeed, 1, HandSgd.Rule(lr))
      assert(HandSgd.maxDifference(states(i).vectors("personal"), v) <= 1e-5, s"client $i")
      assert(ditto.personalization().model(two(i), input, states(i)).sameElements(states(i).vectors("personal")))
    }
  }

  test("SCAFFOLD: c survives a checkpoint; a checkpoint holding more than c is refused; it sends c_i too, so no secure aggregation") {
    val states = Map(0 -> new MemoryState, 1 -> new MemoryState)
    val original = strategy("scaffold", "server-lr = 1.0", shards = 3)
    run(original, two, 2, states)
    val copy = strategy("scaffold", "server-lr = 1.0", shards = 3)
    copy.restore(original.state())
    assert(copy.state().get("c").sameElements(original.state().get("c")))
    val fresh = strategy("scaffold", "server-lr = 1.0", shards = 3)
    fresh.restore(java.util.Map.of()) // a checkpoint before the first round
    assert(fresh.state().isEmpty)
    val more = new java.util.HashMap[String, Array[Float]](original.state())
    more.put("m", new Array[Float](3))
    assert(intercept[IllegalArgumentException](copy.restore(more)).getMessage.contains("control variate"))
    val secure = intercept[IllegalArgumentException](TestRuns.strategyWith(settings("scaffold"), spec, Array(40L, 70L, 10L),
      "scaffold.server-lr = 1.0, secure-aggregation.enabled = true"))
    assert(secure.getMessage.contains("train.secure-aggregation"))
  }

  test("robust refuses train.privacy and train.secure-aggregation (it reads every update), and takes the train block's defaults") {
    val sizes = Array(40L, 70L)
    def robust(train: String) = TestRuns.strategyWith(settings("robust"), spec, sizes, "robust.rule = mean, " + train)
    robust("")
    assert(intercept[IllegalArgumentException](robust("privacy.mode = central")).getMessage.contains("train.privacy"))
    assert(intercept[IllegalArgumentException](robust("secure-aggregation.enabled = true")).getMessage.contains("train.secure-aggregation"))
  }

  test("FedAvg's checkpoint keeps train.privacy's rounds accounted and restores them; it keeps no state of its own") {
    val shards = Seq(tinyShard(0, 30, 1L), tinyShard(1, 50, 2L), tinyShard(2, 40, 3L))
    val sizes = shards.map(_.size.toLong).toArray
    def dp() = TestRuns.strategyWith(new TrainSettings("logreg", 3, 0.5, 1, 10, lr, 4L, "fedavg", 1, TrainSettings.LocalStep.AUTO, 0.0, 0.0),
      tinySpec, sizes, "privacy { mode = central, noise-multiplier = 1.0 }").asInstanceOf[Strategy[WeightedSum]]
    val original = dp()
    assert(original.allowsEmptyRounds(), "Poisson sampling may draw nobody")
    runSampled(original, shards, tinyX0, 1 to 2)
    val state = original.state()
    assert(state.get("dp_rounds").sameElements(Array(2f)))
    val copy = dp()
    copy.restore(state)
    assert(copy.state().get("dp_rounds").sameElements(Array(2f)))
    assert(copy.metrics().get("epsilon") == original.metrics().get("epsilon") && original.metrics().get("epsilon") > 0)
    val plain = TestRuns.strategyWith(settings("fedavg"), spec, Array(40L, 70L), "")
    assert(!plain.allowsEmptyRounds())
    assert(plain.state().isEmpty)
    assert(intercept[IllegalArgumentException](plain.restore(java.util.Map.of("velocity", Array(1f)))).getMessage.contains("velocity"))
    assert(!plain.metrics().containsKey("stragglers") && !plain.metrics().containsKey("simulated_time"))
  }
}
