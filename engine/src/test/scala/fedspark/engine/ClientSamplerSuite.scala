package fedspark.engine

import org.scalatest.funsuite.AnyFunSuite

class ClientSamplerSuite extends AnyFunSuite {

  test("m distinct clients in range, sorted, fixed by seed and round") {
    for (round <- 1 to 50) {
      val ids = ClientSampler.sample(100, 10, 7L, round)
      assert(ids.length == 10 && ids.distinct.length == 10 && ids.forall(k => k >= 0 && k < 100))
      assert(ids.toSeq == ids.sorted.toSeq)
      assert(ClientSampler.sample(100, 10, 7L, round).sameElements(ids))
    }
    assert(!ClientSampler.sample(100, 10, 7L, 1).sameElements(ClientSampler.sample(100, 10, 7L, 2)))
    assert(!ClientSampler.sample(100, 10, 7L, 1).sameElements(ClientSampler.sample(100, 10, 8L, 1)))
  }

  test("every client is about equally likely") {
    val counts = new Array[Int](20)
    for (round <- 1 to 4000; k <- ClientSampler.sample(20, 5, 1L, round)) counts(k) += 1
    // expected 1000 each, variance 4000 * 0.25 * 0.75 = 750: the statistic is chi-square with 19 degrees of freedom (mean 19;
    // above 50 with probability 1e-4); a draw that favours some clients by 5% already gives about 50
    val chiSquare = counts.map(c => (c - 1000.0) * (c - 1000.0) / 750).sum
    assert(chiSquare < 50, s"chi-square $chiSquare: ${counts.mkString(",")}")
  }

  test("a seed mixes every coordinate in its place: swapped or changed coordinates give other seeds") {
    assert(Seeds.mix(7L, 1L, 2L) != Seeds.mix(7L, 2L, 1L))
    val base = Seq(3L, 5L, 11L, 13L)
    val seeds = base +: base.indices.map(i => base.updated(i, base(i) + 1))
    assert(seeds.map(c => Seeds.mix(7L, c: _*)).distinct.size == seeds.size)
    assert(Seeds.mix(7L, 1L) != Seeds.mix(8L, 1L) && Seeds.mix(7L) != Seeds.mix(7L, 0L))
  }

  test("C maps to max(1, round(C*K)) clients") {
    def settings(c: Double) = new TrainSettings("logreg", 1, c, 1, 10, 0.1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO)
    assert(settings(0.0).sampledClients(100) == 1)
    assert(settings(0.1).sampledClients(100) == 10)
    assert(settings(1.0).sampledClients(100) == 100)
    assert(settings(0.1).sampledClients(3) == 1)
  }

  test("impossible settings are refused with the setting named") {
    def error(f: => Any) = intercept[IllegalArgumentException](f).getMessage
    assert(error(new TrainSettings("logreg", 0, 0.1, 1, 10, 0.1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO)).contains("train.rounds"))
    assert(error(new TrainSettings("logreg", 1, 1.5, 1, 10, 0.1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO)).contains("train.C"))
    assert(error(new TrainSettings("logreg", 1, 0.1, 0, 10, 0.1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO)).contains("train.E"))
    assert(error(new TrainSettings("logreg", 1, 0.1, 1, 10, -1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO)).contains("train.lr"))
    val fedsgd = new TrainSettings("logreg", 1, 0.1, 5, 10, 0.1, 0L, "fedsgd", 2, TrainSettings.LocalStep.AUTO)
    assert(error(TestRuns.strategy(fedsgd, new ModelSpec("logreg", fedspark.models.InputShape.MNIST, 10, 0.1), 10)).contains("E = 1 and B = inf"))
    assert(error(new TrainSettings("logreg", 1, 0.1, 1, 10, 0.1, 0L, "fedproxx", 2, TrainSettings.LocalStep.AUTO)).contains("unknown train.algorithm 'fedproxx'"))
    assert(error(new TrainSettings("logreg", 1, 0.1, 1, 10, 0.1, 0L, "fedavg", 2, TrainSettings.LocalStep.AUTO, 1.0, 0)).contains("train.momentum"))
    val badB = com.typesafe.config.ConfigFactory.parseString(
      "rounds = 1, C = 0.1, E = 1, B = ten, lr = 0.1, seed = 0, algorithm = fedavg, aggregation-depth = 2, local-step = auto, momentum = 0, weight-decay = 0")
    assert(error(TrainSettings.fromConfig("logreg", badB)).contains("train.B"))
  }
}
