package fedspark.engine.simulation

import com.typesafe.config.ConfigFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.{TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.strategy.{FedBuff, LocalSgd, RoundInput, Strategy}

/** Simulated time without Spark: the synchronous plans, straggler budgets, and FedBuff's schedule and rounds. */
class SimulationSuite extends AnyFunSuite {
  import TestClients._
  private val NoState = new MemoryState


  private val shards = (0 until 12).map(k => shard(k, 10 + 3 * k, k))
  private def settings(algorithm: String = "fedavg", c: Double = 0.25) =
    new TrainSettings("logreg", 4, c, 1, 10, 0.05, 4L, algorithm, 1, TrainSettings.LocalStep.AUTO)
  private def strategy(train: String, s: TrainSettings = settings()) =
    TestRuns.strategyWith(s, spec, shards.map(_.size.toLong).toArray, train).asInstanceOf[Strategy[WeightedSum]]

  /** Rounds 1..rounds; each round's clients and the model after it. */
  private def run(s: Strategy[WeightedSum], rounds: Int): Seq[(Seq[Int], Array[Float])] = {
    var global = start
    (1 to rounds).map { round =>
      val sampled = s.sample(round, shards.size)
      val input = new RoundInput(round, global, s.shared(round, global), null, s.setup(round, sampled))
      val update = s.clientUpdate()
      val sum = shards.filter(c => sampled.contains(c.client)).foldLeft(s.newAggregate())((a, c) => a.add(update.update(c, input, NoState)))
      global = s.serverStep(round, global, sum)
      (sampled.toSeq, global)
    }
  }

  private val heavyTail = "simulation { enabled = true, speed { median = 10, sigma = 1.5 }, bandwidth { median = 1e6, sigma = 0.5 } }"

  test("simulated time with no over-selection, dropout or deadline is FedAvg bit for bit, and adds simulated_time") {
    val plain = run(strategy(""), 3)
    val simulated = strategy(heavyTail)
    val timed = run(simulated, 3)
    assert(timed.zip(plain).forall { case ((c1, m1), (c2, m2)) => c1 == c2 && m1.sameElements(m2) })
    assert(simulated.metrics().get("simulated_time") > 0)
  }

  private def rounds(train: String) = new SynchronousRounds(TestRuns.trainBlock(train).getConfig("simulation"), settings(),
    shards.map(_.size.toLong).toArray, 4L * 7850)

  test("over-selection keeps the first m to finish; the round lasts until the m-th") {
    val sync = rounds(heavyTail + ", simulation.over-selection = 1.0")
    val profiles = sync.profiles
    val plan = sync.plan(1, 12)
    val candidates = fedspark.engine.ClientSampler.sample(12, 6, 4L, 1) // m = 3, m' = 6
    def finish(k: Int) = profiles.duration(k, profiles.steps(k), 4L * 7850, 4L * 7850)
    val fastest = candidates.sortBy(k => (finish(k), k)).take(3)
    assert(plan.clients.toSeq == fastest.sorted.toSeq)
    assert(plan.seconds == fastest.map(finish).max)
  }

  test("a deadline cuts stragglers, or counts the steps they completed; dropouts fail") {
    val profiles = rounds(heavyTail).profiles
    def finish(k: Int) = profiles.duration(k, profiles.steps(k), 4L * 7850, 4L * 7850)
    val candidates = fedspark.engine.ClientSampler.sample(12, 3, 4L, 2)
    val deadline = candidates.map(finish).sorted.apply(1) // the slowest one misses it
    val cut = rounds(heavyTail + s", simulation.deadline = $deadline").plan(2, 12)
    assert(cut.clients.length == 2 && cut.cut == 1 && cut.seconds == deadline)
    val partial = rounds(heavyTail + s", simulation { deadline = $deadline, stragglers = partial }").plan(2, 12)
    val slow = candidates.maxBy(finish)
    val budget = profiles.stepsWithin(slow, deadline, 4L * 7850, 4L * 7850)
    assert(budget > 0 && budget < profiles.steps(slow))
    assert(partial.clients.length == 3 && partial.stepBudgets.get(slow) == budget)
  }

  test("dropouts: over 400 rounds of 3 candidates, the failures are within the binomial(1200, 0.3) 99.9% interval") {
    val sync = rounds(heavyTail + ", simulation.dropout = 0.3")
    val failed = (1 to 400).map(r => sync.plan(r, 12).failed).sum
    val binomial = new org.apache.commons.math3.distribution.BinomialDistribution(1200, 0.3)
    val (low, high) = (binomial.inverseCumulativeProbability(0.0005), binomial.inverseCumulativeProbability(0.9995))
    assert(failed >= low && failed <= high, s"$failed failures, expected within [$low, $high]")
  }

  /** A profile table of the given speeds and bandwidths (client k on line k), written to a temporary file. */
  private def profileTable(speed: Int => Double, bandwidth: Int => Double): java.nio.file.Path = {
    val table = java.nio.file.Files.createTempFile("fedspark-profiles-", ".csv")
    table.toFile.deleteOnExit()
    java.nio.file.Files.writeString(table, "client,speed,bandwidth\n" + (0 until 12).map(k => s"$k,${speed(k)},${bandwidth(k)}").mkString("\n"))
    table
  }

  // The profile the hand computations use: client k runs 5 + 3k steps a second over 1e5 (1 + k mod 4) bytes a second.
  private val speed = (k: Int) => 5.0 + 3 * k
  private val bandwidth = (k: Int) => 1e5 * (1 + k % 4)
  private val modelBytes = 4.0 * 7850 // logreg's 7,850 parameters of 4 bytes
  /** Client k's round by the profile formula: E = 1, B = 10, the model down and up. */
  private def duration(k: Int) = math.ceil(shards(k).size / 10.0) / speed(k) + 2 * modelBytes / bandwidth(k)

  test("simulated durations follow the profile formula E ceil(n_k / B) / speed_k + 2 (model bytes) / bandwidth_k") {
    val table = profileTable(speed, bandwidth)
    val sync = rounds(s"""simulation { enabled = true, profile-table = "$table", over-selection = 1.0 }""")
    for (round <- 1 to 5) {
      val plan = sync.plan(round, 12)
      val fastest = fedspark.engine.ClientSampler.sample(12, 6, 4L, round).sortBy(k => (duration(k), k)).take(3) // m = 3 of m' = 6
      assert(plan.clients.toSeq == fastest.sorted.toSeq, s"round $round")
      assert(math.abs(plan.seconds - fastest.map(duration).max) < 1e-9, s"round $round: ${plan.seconds}")
    }
    val candidates = fedspark.engine.ClientSampler.sample(12, 3, 4L, 2)
    val deadline = candidates.map(duration).sorted.apply(1)
    val slow = candidates.maxBy(duration)
    val partial = rounds(s"""simulation { enabled = true, profile-table = "$table", deadline = $deadline, stragglers = partial }""").plan(2, 12)
    // the straggler's steps by the deadline, after the model down and leaving time for its update up
    assert(partial.stepBudgets.get(slow) == math.floor((deadline - 2 * modelBytes / bandwidth(slow)) * speed(slow)).toLong)
    assert(partial.seconds == deadline)
  }

  test("the robust strategy passes the stragglers' step budgets on to its clients") {
    val profiles = rounds(heavyTail).profiles
    def finish(k: Int) = profiles.duration(k, profiles.steps(k), 4L * 7850, 4L * 7850)
    val candidates = fedspark.engine.ClientSampler.sample(12, 3, 4L, 1)
    val deadline = candidates.map(finish).sorted.apply(1)
    val robust = strategy(heavyTail + s", simulation { deadline = $deadline, stragglers = partial }, robust.rule = mean",
      settings("robust")).asInstanceOf[Strategy[_]]
    robust.sample(1, 12)
    assert(robust.shared(1, start).containsKey("step_budgets"))
  }

  test("a straggler's budget stops its local training after that many steps") {
    val local = new LocalSgd(spec, TrainSettings.LocalStep.AUTO, 3, 10, 4L)
    val client = shard(1, 45, 1L)
    assert(local.train(client, start, fedspark.engine.local.StepRule.sgd(0.05), 1).steps == 15)
    assert(local.limitedTo(7).train(client, start, fedspark.engine.local.StepRule.sgd(0.05), 1).steps == 7)
  }

  test("FedBuff: the first buffer holds the fastest of the clients started; staleness grows; the same seed the same bits") {
    val s = settings("fedbuff")
    def fedbuff() = strategy(heavyTail, s)
    val a = run(fedbuff(), 4)
    val b = run(fedbuff(), 4)
    assert(a.zip(b).forall { case ((c1, m1), (c2, m2)) => c1 == c2 && m1.sameElements(m2) })
    assert(a.forall(_._1.size == 3))
    val first = fedbuff()
    first.sample(1, 12)
    assert(first.metrics().get("simulated_time") > 0)
    val later = fedbuff()
    run(later, 4)
    assert(later.metrics().get("mean_staleness") >= 0)
    val error = intercept[IllegalArgumentException](strategy(heavyTail + ", fedbuff.concurrency = 10", s))
    assert(error.getMessage.contains("K - buffer"))
    val private_ = intercept[IllegalArgumentException](strategy(heavyTail + ", privacy.mode = central", s))
    assert(private_.getMessage.contains("train.privacy"))
  }

  test("FedBuff trains each client from the model version it was sent") {
    val s = strategy(heavyTail, settings("fedbuff"))
    var global = start
    for (round <- 1 to 3) {
      val sampled = s.sample(round, shards.size)
      s.shared(round, global)
      val setup = s.setup(round, sampled).asInstanceOf[FedBuff.StartModels]
      assert(sampled.forall(k => setup.versions.get(k) <= setup.current))
      if (round == 1) assert(sampled.forall(k => setup.versions.get(k) == 0))
      val input = new RoundInput(round, global, java.util.Map.of(), null, setup)
      val update = s.clientUpdate()
      val sum = shards.filter(c => sampled.contains(c.client)).foldLeft(s.newAggregate())((agg, c) => agg.add(update.update(c, input, NoState)))
      global = s.serverStep(round, global, sum)
    }
  }

  test("FedBuff over three server steps with known staleness: x += (eta / K) sum_i Delta_i / sqrt(1 + tau_i), each Delta_i trained from its own start model") {
    // every client's duration is exactly 1 + 2 bytes / bandwidth (speed = its steps): buffer = concurrency = 2 then gives
    // staleness 0, 0 in step 1 (both start on version 0), then 0 and 1 in steps 2 and 3 (a replacement started before
    // the buffer filled gets the model before that step)
    val steps = (k: Int) => math.ceil(shards(k).size / 10.0)
    val table = profileTable(steps, _ => 1e6)
    val eta = 0.8
    val s = strategy(s"""simulation { enabled = true, profile-table = "$table" }, fedbuff { buffer = 2, concurrency = 2, server-lr = $eta }""",
      settings("fedbuff"))
    val versions = scala.collection.mutable.ArrayBuffer(start.map(_.toDouble)) // x_0, x_1, ... by hand
    var global = start
    for (round <- 1 to 3) {
      val sampled = s.sample(round, shards.size)
      s.shared(round, global)
      val setup = s.setup(round, sampled).asInstanceOf[FedBuff.StartModels]
      val staleness = sampled.map(k => setup.current - setup.versions.get(k).intValue)
      assert(staleness.sorted.toSeq == (if (round == 1) Seq(0, 0) else Seq(0, 1)), s"round $round: staleness ${staleness.toSeq}")
      val input = new RoundInput(round, global, java.util.Map.of(), null, setup)
      val update = s.clientUpdate()
      val sum = shards.filter(c => sampled.contains(c.client)).foldLeft(s.newAggregate())((agg, c) => agg.add(update.update(c, input, NoState)))
      global = s.serverStep(round, global, sum)
      val x = versions.last
      val next = x.clone()
      for ((k, tau) <- sampled.zip(staleness)) {
        val from = versions(round - 1 - tau)
        val (y, _) = fedspark.engine.HandSgd.train(shards(k), from, classes, 1, 10, 4L, round, fedspark.engine.HandSgd.Rule(0.05))
        for (j <- next.indices) next(j) += eta / 2 * (y(j) - from(j)) / math.sqrt(1 + tau)
      }
      versions += next
      assert(fedspark.engine.HandSgd.maxDifference(global, next) <= 1e-5, s"round $round: ${fedspark.engine.HandSgd.maxDifference(global, next)}")
      assert(s.metrics().get("mean_staleness") == staleness.sum / 2.0)
    }
  }

  test("a profile table gives each client its speed and bandwidth; a dropout trace fails the clients it lists; bad lines are named") {
    val dir = java.nio.file.Files.createTempDirectory("fedspark-simulation-")
    try {
      val table = dir.resolve("profiles.csv")
      java.nio.file.Files.writeString(table, "client,speed,bandwidth\n" + (0 until 12).map(k => s"$k,${10 * (k + 1)},1e6").mkString("\n"))
      val fromTable = rounds(s"""simulation { enabled = true, profile-table = "$table" }""")
      assert(fromTable.profiles.speed(3) == 40.0)
      val candidates = fedspark.engine.ClientSampler.sample(12, 3, 4L, 1)
      val trace = dir.resolve("trace.csv")
      java.nio.file.Files.writeString(trace, s"round,client\n1,${candidates(0)}\n2,${candidates(1)}\n")
      val traced = rounds(s"""simulation { enabled = true, dropout-trace = "$trace" }""")
      val plan = traced.plan(1, 12)
      assert(plan.failed == 1 && !plan.clients.contains(candidates(0)) && plan.clients.length == 2)
      java.nio.file.Files.writeString(table, "0,10,1e6\n1,fast,1e6\n")
      val bad = intercept[fedspark.data.BadInputException](rounds(s"""simulation { enabled = true, profile-table = "$table" }"""))
      assert(bad.getMessage.contains("profiles.csv line 2") && bad.getMessage.contains("'1,fast,1e6'"), bad.getMessage)
      java.nio.file.Files.writeString(table, "0,10,1e6\n")
      val missing = intercept[fedspark.data.BadInputException](rounds(s"""simulation { enabled = true, profile-table = "$table" }"""))
      assert(missing.getMessage.contains("no profile for client 1"), missing.getMessage)
    } finally fedspark.testing.TestData.deleteRecursively(dir)
  }

  private def profiles(simulation: String, clients: Int) =
    new ClientProfiles(TestRuns.trainBlock(simulation).getConfig("simulation"), settings(), Array.fill(clients)(10L))

  test("profiles: sigmas of 0 give every client the medians; otherwise log speed and log bandwidth are normal(log median, sigma)") {
    val medians = profiles("simulation { speed { median = 10, sigma = 0 }, bandwidth { median = 1e6, sigma = 0 } }", 12)
    assert((0 until 12).forall(k => medians.speed(k) == 10.0 && medians.duration(k, 0, 1000000L, 0) == 1.0))
    val drawn = profiles(heavyTail, 2000)
    val logSpeed = (0 until 2000).map(k => math.log(drawn.speed(k))).toArray
    val logBandwidth = (0 until 2000).map(k => -math.log(drawn.duration(k, 0, 1, 0))).toArray // 1 byte takes 1 / bandwidth
    val ks = new org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest()
    val pSpeed = ks.kolmogorovSmirnovTest(new org.apache.commons.math3.distribution.NormalDistribution(math.log(10), 1.5), logSpeed)
    val pBandwidth = ks.kolmogorovSmirnovTest(new org.apache.commons.math3.distribution.NormalDistribution(math.log(1e6), 0.5), logBandwidth)
    assert(pSpeed > 1e-3 && pBandwidth > 1e-3, s"Kolmogorov-Smirnov p-values $pSpeed, $pBandwidth")
  }

  test("a profile table refuses a speed or a bandwidth of 0 and a client outside [0, K), naming the line") {
    val dir = java.nio.file.Files.createTempDirectory("fedspark-simulation-")
    try {
      val table = dir.resolve("profiles.csv")
      for ((first, extra) <- Seq(("0,0,1e6", ""), ("0,10,0", ""), ("0,10,1e6", "\n12,10,1e6"))) {
        java.nio.file.Files.writeString(table, "client,speed,bandwidth\n" + first + "\n" + (1 until 12).map(k => s"$k,10,1e6").mkString("\n") + extra)
        val bad = intercept[fedspark.data.BadInputException](rounds(s"""simulation { enabled = true, profile-table = "$table" }"""))
        val line = if (extra.isEmpty) s"line 2: '$first'" else "line 14: '12,10,1e6'"
        assert(bad.getMessage.contains(line) && bad.getMessage.contains("a client in [0, 12)"), bad.getMessage)
      }
    } finally fedspark.testing.TestData.deleteRecursively(dir)
  }

  test("a speed or bandwidth median of 0, or a dropout of 1, is refused") {
    for (zero <- Seq("simulation.speed.median = 0", "simulation.bandwidth.median = 0")) {
      val error = intercept[IllegalArgumentException](rounds(heavyTail + ", " + zero))
      assert(error.getMessage.contains("positive speed.median and bandwidth.median"), zero)
    }
    val error = intercept[IllegalArgumentException](rounds(heavyTail + ", simulation.dropout = 1.0"))
    assert(error.getMessage.contains("dropout in [0, 1)"))
  }

  test("a dropout trace may list client 0; a client outside [0, K) or a line that is not round,client is named by its line") {
    val dir = java.nio.file.Files.createTempDirectory("fedspark-simulation-")
    try {
      val trace = dir.resolve("trace.csv")
      val round = (1 to 100).find(r => fedspark.engine.ClientSampler.sample(12, 3, 4L, r).contains(0)).get
      java.nio.file.Files.writeString(trace, s"round,client\n$round,0\n")
      val plan = rounds(s"""simulation { enabled = true, dropout-trace = "$trace" }""").plan(round, 12)
      assert(plan.failed == 1 && !plan.clients.contains(0) && plan.clients.length == 2)
      for ((text, line) <- Seq(("round,client\n1,12\n", "line 2: '1,12'"), ("round,client\n1,3\nx,4\n", "line 3: 'x,4'"))) {
        java.nio.file.Files.writeString(trace, text)
        val bad = intercept[fedspark.data.BadInputException](rounds(s"""simulation { enabled = true, dropout-trace = "$trace" }"""))
        assert(bad.getMessage.contains(line), bad.getMessage)
      }
    } finally fedspark.testing.TestData.deleteRecursively(dir)
  }

  test("a round lasts until its last client finishes: before a deadline nobody misses, and with fewer than m clients and no deadline") {
    val table = profileTable(speed, bandwidth)
    val candidates = fedspark.engine.ClientSampler.sample(12, 3, 4L, 1)
    val late = 10 * candidates.map(duration).max
    val early = rounds(s"""simulation { enabled = true, profile-table = "$table", deadline = $late }""").plan(1, 12)
    assert(early.clients.toSeq == candidates.toSeq && math.abs(early.seconds - candidates.map(duration).max) < 1e-9, early.seconds)
    val trace = java.nio.file.Files.createTempFile("fedspark-trace-", ".csv")
    trace.toFile.deleteOnExit()
    java.nio.file.Files.writeString(trace, s"1,${candidates(0)}\n")
    val short = rounds(s"""simulation { enabled = true, profile-table = "$table", dropout-trace = "$trace" }""").plan(1, 12)
    assert(short.clients.toSeq == candidates.drop(1).toSeq && math.abs(short.seconds - candidates.drop(1).map(duration).max) < 1e-9, short.seconds)
  }

  test("FedAvg in simulated time: a round lasts E ceil(n_k / B) / speed_k + 2 (4 bytes a parameter) / bandwidth_k of its slowest client; a checkpoint keeps the time") {
    val train = s"""simulation { enabled = true, profile-table = "${profileTable(speed, bandwidth)}" }"""
    val original = strategy(train)
    run(original, 3)
    val hand = (1 to 3).map(r => fedspark.engine.ClientSampler.sample(12, 3, 4L, r).map(duration).max).sum
    assert(math.abs(original.metrics().get("simulated_time") - hand) < 1e-9, s"${original.metrics().get("simulated_time")} vs $hand")
    val state = original.state()
    assert(state.get("simulated_rounds").sameElements(Array(3f)))
    val resumed = strategy(train)
    resumed.restore(state)
    // checkpointed again before its next round (a run resumed and stopped at once): the time is still there
    assert(resumed.state().get("simulated_rounds").sameElements(Array(3f)))
    resumed.sample(4, 12)
    original.sample(4, 12)
    assert(resumed.state().get("simulated_rounds").sameElements(Array(4f)))
    assert(resumed.metrics().get("simulated_time") == original.metrics().get("simulated_time"))
    assert(!strategy("").state().containsKey("simulated_rounds"))
  }

  test("FedBuff's times: all clients alike, each buffer arrives 1 + 2 (4 bytes a parameter) / bandwidth after the last") {
    // speed = a client's steps: its compute takes 1 second, its model down and up 2 * 4 * 7850 / 1e6
    val table = profileTable(k => math.ceil(shards(k).size / 10.0), _ => 1e6)
    val s = strategy(s"""simulation { enabled = true, profile-table = "$table" }, fedbuff { buffer = 3, concurrency = 3 }""", settings("fedbuff"))
    val d = 1 + 2 * 4.0 * 7850 / 1e6
    for (round <- 1 to 3) {
      s.sample(round, shards.size)
      assert(math.abs(s.metrics().get("simulated_time") - round * d) < 1e-9, s"round $round: ${s.metrics().get("simulated_time")}")
    }
  }

  test("FedBuff: the first buffer ends at its slowest client's duration; time never runs backwards; a client is never in flight twice; ids ascending") {
    val speed = (k: Int) => math.ceil(shards(k).size / 10.0) * (1 + 7 * ((k * 5) % 12)) // compute 1 / (1 + 7 ((5k) mod 12)) seconds
    val table = profileTable(speed, _ => 1e9)
    def duration(k: Int) = math.ceil(shards(k).size / 10.0) / speed(k) + 2 * 4.0 * 7850 / 1e9
    val s = strategy(s"""simulation { enabled = true, profile-table = "$table" }, fedbuff { buffer = 3, concurrency = 9 }""", settings("fedbuff"))
    var time = 0.0
    var global = start
    for (round <- 1 to 30) {
      val sampled = s.sample(round, shards.size)
      assert(sampled.length == 3 && sampled.distinct.length == 3 && sampled.sorted.sameElements(sampled), s"round $round: ${sampled.toSeq}")
      val now = s.metrics().get("simulated_time")
      assert(now >= time, s"round $round: $now after $time")
      time = now
      s.shared(round, global)
      if (round == 1) assert(math.abs(now - sampled.map(duration).max) < 1e-12, "all started at time 0")
      global = s.serverStep(round, global, s.newAggregate())
    }
  }

  test("FedBuff with buffer = concurrency = 1 is sequential: every client starts from the latest model, staleness 0") {
    val s = strategy(heavyTail + ", fedbuff { buffer = 1, concurrency = 1 }", settings("fedbuff"))
    var global = start
    for (round <- 1 to 6) {
      val sampled = s.sample(round, shards.size)
      s.shared(round, global)
      val setup = s.setup(round, sampled).asInstanceOf[FedBuff.StartModels]
      assert(sampled.length == 1 && setup.versions.get(sampled(0)) == round - 1 && setup.current == round - 1, s"round $round")
      val input = new RoundInput(round, global, java.util.Map.of(), null, setup)
      val update = s.clientUpdate()
      global = s.serverStep(round, global, s.newAggregate().add(update.update(shards(sampled(0)), input, NoState)))
      assert(s.metrics().get("mean_staleness") == 0.0)
    }
  }

  test("FedBuff's settings: buffer 1 and concurrency K - buffer taken; server-lr 0, an unknown staleness and secure aggregation refused") {
    val s = settings("fedbuff")
    def error(train: String) = intercept[IllegalArgumentException](strategy(heavyTail + ", " + train, s)).getMessage
    strategy(heavyTail + ", fedbuff { buffer = 3, concurrency = 9 }", s) // 9 + 3 = K
    strategy(heavyTail + ", fedbuff { buffer = 1, concurrency = 11 }", s)
    assert(error("fedbuff { buffer = 3, concurrency = 10 }").contains("K - buffer"))
    assert(error("fedbuff { buffer = 0, concurrency = 5 }").contains("1 <= buffer"))
    assert(error("fedbuff.server-lr = 0").contains("server-lr > 0"))
    assert(error("fedbuff.staleness = linear").contains("sqrt or none"))
    assert(error("secure-aggregation.enabled = true").contains("train.secure-aggregation"))
    assert(intercept[IllegalArgumentException](TestRuns.strategy(s, spec, 12, "buffer = 3, concurrency = 5, server-lr = 1.0, staleness = sqrt"))
      .getMessage.contains("train.simulation"))
  }

  test("FedBuff resumed from a checkpoint samples and steps as the uninterrupted run; a round of empty clients leaves the model") {
    val train = heavyTail + ", fedbuff { buffer = 2, concurrency = 4 }"
    val whole = run(strategy(train, settings("fedbuff")), 6)
    val first = strategy(train, settings("fedbuff"))
    val part = run(first, 3)
    val resumed = strategy(train, settings("fedbuff"))
    resumed.restore(first.state())
    var global = part.last._2
    for (round <- 4 to 6) {
      val sampled = resumed.sample(round, shards.size)
      val input = new RoundInput(round, global, resumed.shared(round, global), null, resumed.setup(round, sampled))
      val update = resumed.clientUpdate()
      global = resumed.serverStep(round, global, shards.filter(c => sampled.contains(c.client)).foldLeft(resumed.newAggregate())((a, c) => a.add(update.update(c, input, NoState))))
      assert(sampled.toSeq == whole(round - 1)._1 && global.sameElements(whole(round - 1)._2), s"round $round")
    }
    val empty = strategy(train, settings("fedbuff"))
    assert(empty.allowsEmptyRounds())
    val sampled = empty.sample(1, shards.size)
    empty.shared(1, start)
    val input = new RoundInput(1, start, java.util.Map.of(), null, empty.setup(1, sampled))
    val update = empty.clientUpdate()
    val none = sampled.map(k => update.update(new fedspark.data.ClientShard(k, d, new Array[Float](0), new Array[Int](0)), input, NoState))
    assert(none.forall(r => r.examples == 0 && r.weight == 0))
    assert(empty.serverStep(1, start, none.foldLeft(empty.newAggregate())(_ add _)).sameElements(start))
  }
}
