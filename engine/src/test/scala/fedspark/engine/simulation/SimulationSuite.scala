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
    val failing = (1 to 20).map(r => rounds(heavyTail + ", simulation.dropout = 0.5").plan(r, 12).failed).sum
    assert(failing > 10 && failing < 50, failing)
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
}
