package fedspark.engine.logic

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.state.ClientState
import fedspark.engine.strategy.{ClientResult, RoundInput, Strategy}

/**
 * The logic layer without Spark: each transform against its definition, and DP-FedAvg's server side, driven round
 * by round as StrategiesSuite drives the algorithms (the round's Spark job is FederatedRunSuite's; the logic layer
 * and DP-FedAvg through Spark, from configuration: fedspark.jobs.CommandLineSuite's "privacy: ..." tests and its
 * top-k-secure, dp-central and dp-local resume tests).
 */
class LogicLayerSuite extends AnyFunSuite {
  import TestClients._


  private def settings(algorithm: String = "fedavg", c: Double = 1.0, rounds: Int = 3) =
    new TrainSettings("logreg", rounds, c, 1, 10, 0.05, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO)

  private def strategy(train: String, shards: Seq[ClientShard], s: TrainSettings = settings()): Strategy[WeightedSum] =
    TestRuns.strategyWith(s, spec, shards.map(_.size.toLong).toArray, train).asInstanceOf[Strategy[WeightedSum]]

  /** Rounds 1..rounds over the clients each round samples; the global model after each round and the aggregates. */
  private def run(s: Strategy[WeightedSum], shards: Seq[ClientShard], rounds: Int,
                  states: Map[Int, MemoryState] = Map()): Seq[(Array[Float], WeightedSum)] = {
    val update = s.clientUpdate()
    var global = start
    (1 to rounds).map { round =>
      val input = new RoundInput(round, global, s.shared(round, global), null)
      val sampled = s.sample(round, shards.size).toSet
      val sum = shards.filter(c => sampled(c.client)).foldLeft(s.newAggregate())((agg, c) =>
        agg.add(update.update(c, input, states.getOrElse(c.client, new MemoryState))))
      global = s.serverStep(round, global, sum)
      (global, sum)
    }
  }

  private val three = Seq(shard(0, 40, 1L), shard(1, 70, 2L), shard(2, 25, 3L))

  private def context(state: ClientState = new MemoryState, client: Int = 0, round: Int = 1) =
    new TransformContext(new RoundInput(round, start, java.util.Map.of(), null), client, 9L, state, Array(d * classes, classes))

  private def update(values: Array[Double]): Update = Update.of(values.map(_.toFloat)).dense(values, 32L * values.length)

  test("a model's change is exact in fixed point: global + mean change is the mean model, bit for bit, tiny values included") {
    val random = new scala.util.Random(5)
    val x = Array.fill(1000)((random.nextGaussian() * math.pow(10, -random.nextInt(8))).toFloat)
    val models = (0 until 4).map(_ => x.map(v => v + (random.nextGaussian() * 1e-3).toFloat))
    val plain = models.zipWithIndex.foldLeft(WeightedSum.empty()) { case (sum, (y, k)) =>
      sum.add(ClientResult.weightedByExamples(k, 10 + k, y, 0, 1)) }
    val changes = models.zipWithIndex.foldLeft(WeightedSum.empty()) { case (sum, (y, k)) =>
      val result = ClientResult.weightedByExamples(k, 10 + k, y, 0, 1)
      sum.add(result.transformed(Update.modelDelta(x, y), result.weight, java.util.Map.of())) }
    assert(changes.meanModel(x).sameElements(plain.meanModel(x)))
    assert(intercept[IllegalStateException](changes.average()).getMessage.contains("meanModel"))
  }

  test("with transforms that change nothing, FedAvg through the logic layer is FedAvg, bit for bit") {
    val plain = run(strategy("", three), three, 2).map(_._1)
    val layered = run(strategy("privacy { mode = central, noise-multiplier = 0, clip = 1e9, estimator = ratio, weight-cap = inf, sampling = uniform }", three), three, 2)
    assert(layered.map(_._1).zip(plain).forall { case (a, b) => a.sameElements(b) })
    assert(layered.head._2.bytes == 3L * 4 * start.length)
  }

  test("clipping bounds the update's norm by S, flat and per layer, and leaves smaller updates untouched") {
    val random = new scala.util.Random(1)
    val big = update(Array.fill(d * classes + classes)(random.nextGaussian()))
    val flat = new Clip(2.0, false, false).apply(big, context())
    assert(math.abs(flat.norm - 2.0) < 1e-9)
    val perLayer = new Clip(2.0, true, false).apply(big, context()).values
    assert(Update.norm(perLayer, 0, d * classes) <= 2.0 / math.sqrt(2) + 1e-9)
    assert(Update.norm(perLayer, d * classes, perLayer.length) <= 2.0 / math.sqrt(2) + 1e-9)
    val small = update(Array(0.1, -0.2))
    assert(new Clip(2.0, false, false).apply(small, context()) eq small)
  }

  test("top-k sends the k largest magnitudes; with error feedback nothing is lost, only delayed") {
    val values = Array(0.5, -3.0, 0.1, 2.0, -0.2, 1.0, 0.0, -1.5, 0.3, 0.05)
    val state = new MemoryState
    val sent = new TopK(0.3, true).apply(update(values), context(state))
    assert(sent.indices.toSeq == Seq(1, 3, 7) && sent.values.toSeq == Seq(-3.0, 2.0, -1.5))
    assert(sent.bits == 3 * 64)
    val residual = state.get(TopK.RESIDUAL)
    assert(residual.zip(values).zipWithIndex.forall { case ((r, v), i) => r == (if (Set(1, 3, 7)(i)) 0f else v.toFloat) })
    // next round: the residual joins the new update before selection
    val next = new TopK(0.3, true).apply(update(Array.fill(10)(0.0)), context(state, round = 2))
    assert(next.indices.toSeq == Seq(0, 5, 8) && next.values.map(_.toFloat).toSeq == Seq(0.5f, 1.0f, 0.3f))
    // Selective SGD's rule keeps no residual
    val noFeedback = new MemoryState
    new TopK(0.3, false).apply(update(values), context(noFeedback))
    assert(noFeedback.vectors.isEmpty)
  }

  test("random-k sends k distinct coordinates, the same ones for the same seed, round and client") {
    val values = Array.tabulate(1000)(i => i.toDouble)
    val a = new RandomK(0.05, false, 0).apply(update(values), context())
    val b = new RandomK(0.05, false, 0).apply(update(values), context())
    val other = new RandomK(0.05, false, 0).apply(update(values), context(client = 1))
    assert(a.indices.length == 50 && a.indices.distinct.length == 50 && a.indices.sorted.sameElements(a.indices))
    assert(a.indices.sameElements(b.indices) && !a.indices.sameElements(other.indices))
    assert(a.indices.zip(a.values).forall { case (i, v) => v == i.toDouble })
  }

  test("QSGD: values on the norm's grid, unbiased over seeds, b bits a value plus the norm") {
    val values = Array(0.3, -0.4, 0.0, 1.2, -0.05)
    val norm = math.sqrt(values.map(v => v * v).sum)
    val levels = 7 // 4 bits
    val draws = (0 until 4000).map(c => new StochasticQuantization(4, 0).apply(update(values), context(client = c)))
    assert(draws.head.bits == 32 + 4 * values.length)
    for (draw <- draws.take(20); v <- draw.values) {
      val level = math.abs(v) / norm * levels
      assert(math.abs(level - math.rint(level)) < 1e-9)
    }
    val mean = values.indices.map(i => draws.map(_.values()(i)).sum / draws.size)
    values.indices.foreach(i => assert(math.abs(mean(i) - values(i)) < 0.02, s"coordinate $i: mean ${mean(i)}, value ${values(i)}"))
    assert(draws.forall(_.values()(2) == 0.0))
  }

  test("sign compression: one bit a value and the mean magnitude") {
    val values = Array(0.25, -1.5, 0.0, 3.0, -0.5) // mean magnitude 5.25 / 5 = 1.05: a sign without its scale is off
    val scale = values.map(math.abs).sum / values.length
    val sent = new SignCompression().apply(update(values), context())
    assert(sent.values.toSeq == Seq(scale, -scale, 0.0, scale, -scale) && sent.bits == 32 + 5)
  }

  test("a sparse update adds into the sum as its dense equivalent does, bit for bit") {
    val dense = Array(0.0, 0.25, 0.0, -1.5, 0.0, 0.125)
    def sum(u: Update) = WeightedSum.empty().add(ClientResult.weightedByExamples(0, 3, Array.fill(6)(0f), 0, 1).transformed(u, 3, java.util.Map.of()))
    val asSparse = update(dense).sparse(Array(1, 3, 5), Array(0.25, -1.5, 0.125), 6 * 64)
    assert(sum(asSparse).average().sameElements(sum(update(dense)).average()))
  }

  test("the pipeline runs train.update's transforms in order and bytes count what the clients send") {
    val sparse = run(strategy("update.transforms = [top-k, quantize], update.top-k.fraction = 0.1, update.quantize.bits = 4", three), three, 1)
    val k = math.ceil(0.1 * start.length).toLong
    assert(sparse.head._2.bytes == 3 * ((32 + k * (32 + 4) + 7) / 8))
    val unknown = intercept[IllegalArgumentException](strategy("update.transforms = [top-k, zip]", three))
    assert(unknown.getMessage.contains("unknown transform 'zip'"))
  }

  test("top-k with error feedback keeps client state; a plain pipeline does not") {
    assert(strategy("update.transforms = [top-k]", three).keepsClientState())
    assert(!strategy("update.transforms = [selective-sgd, quantize]", three).keepsClientState())
  }

  test("central DP: the server's noise has std z S cap / (q W) around the fixed-denominator mean") {
    val clients = (0 until 50).map(k => shard(k, 20, k))
    val s = strategy("privacy { mode = central, noise-multiplier = 2.0, clip = 0.5, weight-cap = 1 }", clients, settings(c = 0.2))
    val empty = s.newAggregate()
    val next = s.serverStep(1, start, empty) // no client: the update is noise alone
    val noise = next.zip(start).map { case (a, b) => a.toDouble - b }
    val std = math.sqrt(noise.map(v => v * v).sum / noise.length)
    val expected = 2.0 * 0.5 * 1 / (0.2 * 50)
    assert(math.abs(std - expected) < 0.02 * expected, s"noise std $std, expected $expected")
    assert(s.metrics().get("epsilon") > 0)
  }

  test("central DP: the fixed-denominator mean divides the clipped, capped sum by q W") {
    val clients = (0 until 4).map(k => shard(k, 10 * (k + 1), k))
    val s = strategy("privacy { mode = central, noise-multiplier = 0, clip = 1e9, weight-cap = 20, sampling = uniform }", clients, settings(c = 0.5))
    val (next, _) = run(s, clients, 1).head
    // weights min(n_k, 20): 10, 20, 20, 20; W = 70, q = 2 / 4; each sampled client's change trained by hand
    val sampled = s.sample(1, 4)
    assert(sampled.length == 2)
    val x = start.map(_.toDouble)
    val sum = new Array[Double](x.length)
    for (k <- sampled) {
      val (y, _) = fedspark.engine.HandSgd.train(clients(k), x, classes, 1, 10, 4L, 1, fedspark.engine.HandSgd.Rule(0.05))
      for (j <- x.indices) sum(j) += math.min(clients(k).size, 20) * (y(j) - x(j))
    }
    val expected = x.indices.map(j => x(j) + sum(j) / (0.5 * 70)).toArray
    assert(fedspark.engine.HandSgd.maxDifference(next, expected) <= 1e-5, fedspark.engine.HandSgd.maxDifference(next, expected))
  }

  test("Poisson sampling: each client independently with probability q, seeded by the round") {
    val clients = (0 until 400).map(k => shard(k, 1, k))
    val s = strategy("privacy { mode = central, noise-multiplier = 1 }", clients, settings(c = 0.1))
    val sizes = (1 to 40).map(r => s.sample(r, 400).length)
    assert(sizes.distinct.size > 5, sizes)
    assert(math.abs(sizes.sum / 40.0 - 40) < 4, sizes)
    assert(s.sample(3, 400).sameElements(strategy("privacy { mode = central, noise-multiplier = 1 }", clients, settings(c = 0.1)).sample(3, 400)))
  }

  test("adaptive clipping: the clip falls when every update is within it, rises when none is") {
    val clients = (0 until 20).map(k => shard(k, 20, k))
    val options = "privacy { mode = central, noise-multiplier = 0, clip = %s, adaptive-clip { enabled = true, count-noise = 0.01, learning-rate = 0.2 } }"
    val loose = strategy(options.format("1000"), clients, settings(c = 0.5))
    run(loose, clients, 3)
    assert(loose.metrics().get("clip") < 1000 * math.exp(-0.2 * 0.5 * 2))
    val tight = strategy(options.format("1e-6"), clients, settings(c = 0.5))
    run(tight, clients, 3)
    assert(tight.metrics().get("clip") > 1e-6 * math.exp(0.2 * 0.5 * 2))
  }

  test("local DP: every client noises its own update, and takes part at most local-max-rounds times") {
    val clients = (0 until 10).map(k => shard(k, 20, k))
    val s = strategy("privacy { mode = local, noise-multiplier = 1.0, clip = 0.1, local-max-rounds = 2, sampling = uniform }", clients, settings(c = 0.5, rounds = 10))
    val sampled = (1 to 10).map(r => s.sample(r, 10).toSeq)
    assert(sampled.flatten.groupBy(identity).values.forall(_.size <= 2))
    assert(sampled.drop(5).forall(_.isEmpty) || sampled.flatten.size <= 20)
    val one = strategy("privacy { mode = local, noise-multiplier = 1.0, clip = 0.1 }", clients, settings(c = 1.0))
    val result = one.clientUpdate().update(clients.head, new RoundInput(1, start, java.util.Map.of(), null), new MemoryState)
    // a clipped update of norm <= 0.1 plus noise of std 0.1 a coordinate
    assert(math.abs(result.update.norm / math.sqrt(start.length) - 0.1) < 0.01)
  }

  test("target epsilon sizes z before training; privacy refuses algorithms that send more than their model") {
    val clients = (0 until 100).map(k => shard(k, 5, k))
    val s = strategy("privacy { mode = central, target-epsilon = 3 }", clients, settings(c = 0.1, rounds = 50))
    val z = s.metrics().get("noise_multiplier")
    assert(math.abs(fedspark.engine.privacy.RdpAccountant.epsilonOf(0.1, z, 50, 1e-5) - 3) < 0.01)
    val scaffold = intercept[IllegalArgumentException](strategy("privacy { mode = central }", clients, settings("scaffold", c = 0.1)))
    assert(scaffold.getMessage.contains("scaffold"))
  }

  test("target-mode = stop refuses the round that would exceed the budget") {
    val clients = (0 until 10).map(k => shard(k, 5, k))
    val s = strategy("privacy { mode = central, noise-multiplier = 2.0, target-epsilon = 3, target-mode = stop }", clients, settings(c = 0.5, rounds = 50))
    val allowed = (1 to 50).takeWhile { r => s.refusal(r) == null && { s.serverStep(r, start, s.newAggregate()); true } }.size
    val spent = s.metrics().get("epsilon")
    assert(allowed < 50 && spent <= 3.0 && fedspark.engine.privacy.RdpAccountant.epsilonOf(0.5, 2.0, allowed + 1, 1e-5) > 3.0 && allowed > 1)
    assert(s.refusal(allowed + 1).contains("target-epsilon"))
  }

  test("central DP with compression clips again last, so error feedback and quantization keep the clip; an empty ratio round keeps the model") {
    val clients = (0 until 4).map(k => shard(k, 30, k))
    val s = strategy("privacy { mode = central, noise-multiplier = 0, clip = 0.05, sampling = uniform }, " +
      "update { transforms = [top-k, quantize], top-k.fraction = 0.05, quantize.bits = 2 }", clients, settings(c = 1.0))
    val update = s.clientUpdate()
    val state = new MemoryState
    for (round <- 1 to 3) { // the residual grows round after round; what is sent stays within the clip
      val sent = update.update(clients.head, new RoundInput(round, start, s.shared(round, start), null), state).update
      assert(sent.norm <= 0.05 + 1e-9, s"round $round: norm ${sent.norm}")
    }
    val ratio = strategy("privacy { mode = central, noise-multiplier = 0, estimator = ratio }", clients, settings(c = 0.5))
    assert(ratio.serverStep(1, start, ratio.newAggregate()).sameElements(start))
  }

  test("top-k picks what sorting by magnitude picks, ties to the lower index, for every k; fraction 1 sends everything") {
    // by hand: |1| = |-1| tie for the second place; the lower index wins it, and the 3 after them is still sent
    assert(TopK.largest(Array(1.0, -1.0, 3.0), 2).toSeq == Seq(0, 2))
    assert(TopK.largest(Array(2.0, 2.0, 2.0, 5.0, 2.0), 3).toSeq == Seq(0, 1, 3))
    // the same rule by sorting: magnitude descending, then index ascending, first k, back in index order
    def bySorting(values: Array[Double], k: Int): Seq[Int] =
      values.indices.sortBy(i => (-math.abs(values(i)), i)).take(k).sorted
    val random = new scala.util.Random(12)
    for (trial <- 0 until 400) {
      val n = 1 + random.nextInt(40)
      val ties = trial % 2 == 0 // small integers: many equal magnitudes, of either sign
      val values = Array.fill(n)(if (ties) (random.nextInt(7) - 3).toDouble else random.nextGaussian())
      for (k <- 1 to n) {
        assert(TopK.largest(values.clone(), k).toSeq == bySorting(values, k), s"k = $k of ${values.toSeq}")
      }
    }
    val values = Array(0.5, -3.0, 0.1)
    val all = new TopK(1.0, false).apply(update(values), context())
    assert(all.indices.toSeq == Seq(0, 1, 2) && all.values.toSeq == values.toSeq)
    assert(intercept[IllegalArgumentException](new TopK(0.0, false)).getMessage.contains("(0, 1]"))
    assert(intercept[IllegalArgumentException](new TopK(1.5, false)).getMessage.contains("(0, 1]"))
  }

  test("random-k draws every k-subset equally often; fraction 1 sends everything; its residual is what it did not send") {
    // d = 4, k = 2: six pairs, each with probability 1/6 over clients (the generator is seeded by the client)
    val draws = 6000
    val counts = (0 until draws).map(c => new RandomK(0.5, false, 0).apply(update(Array(1.0, 2.0, 3.0, 4.0)), context(client = c)).indices.toSeq)
      .groupBy(identity).map { case (pair, seen) => pair -> seen.size }
    assert(counts.keySet == Set(Seq(0, 1), Seq(0, 2), Seq(0, 3), Seq(1, 2), Seq(1, 3), Seq(2, 3)), counts)
    val sigma = math.sqrt(draws * (1.0 / 6) * (5.0 / 6))
    assert(counts.values.forall(n => math.abs(n - draws / 6.0) < 5 * sigma), counts)
    val all = new RandomK(1.0, false, 0).apply(update(Array(0.5, -3.0, 0.1)), context())
    assert(all.indices.toSeq == Seq(0, 1, 2) && all.values.toSeq == Seq(0.5, -3.0, 0.1))
    assert(intercept[IllegalArgumentException](new RandomK(0.0, false, 0)).getMessage.contains("(0, 1]"))
    val state = new MemoryState
    val values = Array(1.0, 2.0, 3.0, 4.0, 5.0)
    val sent = new RandomK(0.4, true, 0).apply(update(values), context(state))
    val residual = state.get(TopK.RESIDUAL)
    assert(sent.indices.length == 2)
    assert(values.indices.forall(i => residual(i) == (if (sent.indices.contains(i)) 0f else values(i).toFloat)))
    val mismatch = intercept[IllegalStateException](new RandomK(0.4, true, 0).apply(update(Array(1.0, 2.0)), context(state, client = 7)))
    assert(mismatch.getMessage.contains("client 7 kept a residual of 5 values for an update of 2"))
    assert(context(client = 7, round = 4).round() == 4)
  }

  test("Update: a vector as it is, 32 bits a value; a sparse update's dense form has zeros elsewhere; new bits keep the values") {
    val of = Update.of(Array(1.5f, -2f, 0.25f))
    assert(of.values.toSeq == Seq(1.5, -2.0, 0.25) && of.bits == 96 && !of.isSparse && !of.isModelDelta && of.length == 3)
    val sparse = of.sparse(Array(0, 2), Array(4.0, -1.0), 70)
    assert(sparse.toDense.toSeq == Seq(4.0, 0.0, -1.0) && sparse.sent == 2 && sparse.length == 3)
    val rebits = sparse.withBits(9)
    assert(rebits.bits == 9 && rebits.bytes == 2 && rebits.indices.toSeq == Seq(0, 2) && rebits.values.toSeq == Seq(4.0, -1.0))
  }

  test("clip: a fixed clip must be positive, an adaptive one takes the server's; within the clip includes the clip itself") {
    assert(intercept[IllegalArgumentException](new Clip(0.0, false, false)).getMessage.contains("positive"))
    assert(intercept[IllegalArgumentException](new Clip(-1.0, false, false)).getMessage.contains("positive"))
    val adaptive = new Clip(0.0, false, true) // the norm is ignored: the clip comes from the server
    val shared = java.util.Map.of(Clip.SHARED_CLIP, Array(1.0f))
    val ctx = new TransformContext(new RoundInput(1, start, shared, null), 0, 9L, new MemoryState, Array(d * classes, classes))
    val clipped = adaptive.apply(update(Array(3.0, 4.0)), ctx) // norm 5, clipped to 1: (0.6, 0.8)
    assert(clipped.values.zip(Seq(0.6, 0.8)).forall { case (a, b) => math.abs(a - b) < 1e-12 }, clipped.values.toSeq)
    assert(ctx.reports.get(Clip.BELOW_CLIP).values.toSeq == Seq(-0.5f))
    assert(Clip.belowClipReport(2.0, 2.0) == 0.5f && Clip.belowClipReport(1.0, 2.0) == 0.5f)
    assert(Clip.belowClipReport(java.lang.Math.nextUp(2.0), 2.0) == -0.5f)
  }

  test("QSGD: a value on the grid is sent as it is, 2 bits send -||v||, 0 or ||v||, a zero update stays zero") {
    val onGrid = Array(2.0, -3.0, 6.0) // norm 7; with 4 bits (7 levels) each |v_i| / ||v|| * 7 is a whole level
    val exact = new StochasticQuantization(4, 0).apply(update(onGrid), context())
    assert(exact.values.zip(onGrid).forall { case (a, b) => math.abs(a - b) < 1e-12 }, exact.values.toSeq)
    val coarse = (0 until 50).flatMap(c => new StochasticQuantization(2, 0).apply(update(onGrid), context(client = c)).values)
    assert(coarse.forall(v => v == 0.0 || math.abs(v) == 7.0) && coarse.exists(_ != 0.0) && coarse.exists(_ == 0.0))
    assert(new StochasticQuantization(2, 0).apply(update(onGrid), context()).bits == 32 + 2 * 3)
    val zero = new StochasticQuantization(4, 0).apply(update(Array(0.0, 0.0, 0.0)), context())
    assert(zero.values.toSeq == Seq(0.0, 0.0, 0.0))
    for (bits <- Seq(1, 17)) {
      assert(intercept[IllegalArgumentException](new StochasticQuantization(bits, 0)).getMessage.contains("2 to 16"))
    }
    new StochasticQuantization(16, 0)
  }

  test("sign compression of a sparse update: each index keeps its 32 bits, each value one bit, and the scale 32") {
    val sparse = update(Array(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)).sparse(Array(1, 4), Array(-0.5, 1.5), 128)
    val sent = new SignCompression().apply(sparse, context())
    assert(sent.indices.toSeq == Seq(1, 4) && sent.values.toSeq == Seq(-1.0, 1.0) && sent.bits == 32 + 2 * 32 + 2)
  }

  test("local noise: std 0 sends the update as it is; every coordinate of an odd-length update gets N(0, std^2)") {
    val values = update(Array(1.0, 2.0, 3.0))
    assert(new GaussianNoise(0.0, 1).apply(values, context()) eq values)
    for (bad <- Seq(-1.0, Double.NaN, Double.PositiveInfinity)) {
      assert(intercept[IllegalArgumentException](new GaussianNoise(bad, 1)).getMessage.contains("finite and not negative"))
    }
    val n = 20001
    val noisy = new GaussianNoise(0.5, 1).apply(update(Array.fill(n)(1.0)), context()).values.map(_ - 1.0)
    val mean = noisy.sum / n
    val std = math.sqrt(noisy.map(v => v * v).sum / n)
    assert(math.abs(mean) < 5 * 0.5 / math.sqrt(n) && math.abs(std - 0.5) < 0.02, s"mean $mean, std $std")
    assert(noisy.last != 0.0) // the last coordinate, alone in its pair, is noised too
  }

  test("the pipeline adds its last transforms only after a compression transform; random-k's error feedback keeps state") {
    val twice: UpdateTransform = (u: Update, _: TransformContext) => u.withValues(u.values.map(_ * 2), u.bits)
    val plus: UpdateTransform = (u: Update, _: TransformContext) => u.withValues(u.values.map(_ + 1), u.bits)
    val config = com.typesafe.config.ConfigFactory.parseString(
      "transforms = [], top-k { fraction = 1.0, error-feedback = false }, random-k { fraction = 1.0, error-feedback = true }")
    val none = UpdatePipeline.of(java.util.Collections.singletonList(plus), config, java.util.Collections.singletonList(twice))
    assert(none.apply(update(Array(1.0, 2.0)), context()).values.toSeq == Seq(2.0, 3.0)) // (x + 1), not doubled
    val two = UpdatePipeline.of(java.util.Collections.singletonList(plus), config)
    assert(two.apply(update(Array(1.0, 2.0)), context()).values.toSeq == Seq(2.0, 3.0) && !two.isEmpty)
    val topK = UpdatePipeline.of(java.util.Collections.singletonList(plus), config.withValue("transforms",
      com.typesafe.config.ConfigValueFactory.fromIterable(java.util.Collections.singletonList("top-k"))), java.util.Collections.singletonList(twice))
    assert(topK.apply(update(Array(1.0, 2.0)), context()).values.toSeq == Seq(4.0, 6.0)) // (x + 1), all kept, doubled
    assert(!topK.keepsClientState())
    def randomK(feedback: Boolean) = UpdatePipeline.of(java.util.List.of(), config.withValue("transforms",
      com.typesafe.config.ConfigValueFactory.fromIterable(java.util.Collections.singletonList("random-k")))
      .withValue("random-k.error-feedback", com.typesafe.config.ConfigValueFactory.fromAnyRef(feedback)))
    assert(randomK(true).keepsClientState() && !randomK(false).keepsClientState())
  }
}
