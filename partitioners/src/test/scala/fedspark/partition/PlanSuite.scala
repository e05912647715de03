package fedspark.partition

import com.typesafe.config.ConfigFactory
import org.scalatest.funsuite.AnyFunSuite

import fedspark.partition.stats.PartitionStatistics

/**
 * The schemes' plans as the driver makes them, without Spark: what the seed, the shuffles and the Dirichlet draws
 * decide, minimum sizes and attempts, the settings refused, and the names that keep one partitioning from another.
 */
class PlanSuite extends AnyFunSuite {

  /** The client of every rank (ranks: the examples sorted label by label for a grouped scheme, else one ranking). */
  private def owners(p: RankedPartitioner, counts: Array[Long]): IndexedSeq[Int] = {
    val plan = p.plan(counts)
    (0L until counts.sum).map(plan.client)
  }

  /** Each client's label counts, for a scheme that ranks label by label. */
  private def statistics(p: RankedPartitioner, counts: Array[Long]): PartitionStatistics = {
    val histogram = Array.fill(p.clients, counts.length)(0L)
    val labelOfRank = counts.indices.flatMap(label => Seq.fill(counts(label).toInt)(label))
    for ((client, rank) <- owners(p, counts).zipWithIndex if client >= 0) histogram(client)(labelOfRank(rank)) += 1
    new PartitionStatistics(histogram)
  }

  private def sizes(p: RankedPartitioner, counts: Array[Long]): IndexedSeq[Int] = {
    val clientOf = owners(p, counts)
    (0 until p.clients).map(k => clientOf.count(_ == k))
  }

  test("each scheme's seed reaches its plan: the same seed deals every rank to the same client, another seed not") {
    val counts = Array.fill(10)(60L)
    val schemes: Seq[Long => RankedPartitioner] = Seq(
      s => new ShardPartitioner(20, 2, 0, s),
      s => new DirichletPartitioner(20, 0.5, 0, 0, 100, s),
      s => new DirichletPartitioner(20, 0.5, 2.0, 0, 100, s),
      s => new LabelsPerClientPartitioner(20, 3, s),
      s => new QuantityPartitioner(20, 0.5, 0, 100, s))
    for (scheme <- schemes) {
      assert(owners(scheme(1L), counts) == owners(scheme(1L), counts), scheme(1L).id())
      assert(owners(scheme(1L), counts) != owners(scheme(2L), counts), scheme(1L).id())
    }
  }

  test("shards are dealt by a uniform permutation: over 480 seeds each of the 24 orders of 4 shards comes up") {
    // 4 labels of one example: 4 shards of 1, one a client; the owners of ranks 0..3 are the permutation
    val orders = (0L until 480L).map(seed => owners(new ShardPartitioner(4, 1, 0, seed), Array(1L, 1L, 1L, 1L)))
    val counts = orders.groupBy(identity).map { case (order, seeds) => order -> seeds.size }
    assert(counts.keySet == (0 until 4).permutations.map(_.toIndexedSeq).toSet, s"${counts.size} of 24 orders")
    // 20 expected each; a Poisson(20) count below 5 has probability 2e-5
    assert(counts.values.min >= 5, counts.toString)
  }

  test("#C=k draws the clients' other labels from one stream: no label goes to most of the clients") {
    val stats = statistics(new LabelsPerClientPartitioner(20, 2, 3L), Array.fill(10)(100L))
    val holders = (0 until 10).map(label => (0 until 20).count(k => stats.histogram(k)(label) > 0))
    assert(holders.sum == 40, holders.toString)
    // 2 holders a label from "label k mod 10", 2 more expected from the draws; the same draws for every client give one label 18+
    assert(holders.max <= 8, holders.toString)
  }

  test("quantity: every client gets min-client-size examples or more; a minimum too large, or not met in max-attempts draws, is refused") {
    for (seed <- 0L until 10L) {
      val s = sizes(new QuantityPartitioner(10, 1.0, 50, 1000, seed), Array(2000L))
      assert(s.sum == 2000 && s.min >= 50, s"seed $seed: $s")
    }
    val tooLarge = intercept[IllegalArgumentException](new QuantityPartitioner(10, 0.5, 201, 100, 1L).plan(Array(2000L)))
    assert(tooLarge.getMessage.contains("cannot give 10 clients at least 201 examples each from 2000"), tooLarge.getMessage)
    val notMet = intercept[IllegalArgumentException](new QuantityPartitioner(10, 0.05, 150, 3, 1L).plan(Array(2000L)))
    assert(notMet.getMessage.contains("no draw in 3") && notMet.getMessage.contains("min-client-size = 150"), notMet.getMessage)
  }

  test("max-attempts = 1 takes the first draw; each further attempt is a new draw") {
    assert(sizes(new DirichletPartitioner(2, 100, 0, 0, 1, 0L), Array(50L, 50L)).sum == 100)
    assert(sizes(new QuantityPartitioner(2, 100, 0, 1, 0L), Array(100L)).sum == 100)
    def firstDrawLeavesAClientEmpty(p: RankedPartitioner, counts: Array[Long]) =
      try { p.plan(counts); false } catch { case _: IllegalArgumentException => true }
    val dirichletCounts = Array.fill(10)(200L)
    val dirichletSeeds = (0L until 50L).filter(s => firstDrawLeavesAClientEmpty(new DirichletPartitioner(10, 0.05, 0, 1, 1, s), dirichletCounts))
    assert(dirichletSeeds.nonEmpty)
    for (s <- dirichletSeeds) assert(sizes(new DirichletPartitioner(10, 0.05, 0, 1, 1000, s), dirichletCounts).min >= 1, s"seed $s")
    val quantitySeeds = (0L until 50L).filter(s => firstDrawLeavesAClientEmpty(new QuantityPartitioner(10, 0.5, 1, 1, s), Array(2000L)))
    assert(quantitySeeds.nonEmpty)
    for (s <- quantitySeeds) assert(sizes(new QuantityPartitioner(10, 0.5, 1, 1000, s), Array(2000L)).min >= 1, s"seed $s")
  }

  test("dirichlet-quantity: client weights w ~ Dir(quantity-beta) set the sizes, each label's shares ~ Dir(beta K w)") {
    val counts = Array.fill(10)(200L)
    def meanDistance(p: Long => RankedPartitioner) = (0L until 10L).map(s => statistics(p(s), counts).summary().meanDistance).sum / 10
    // weights near 1/K (quantity-beta 1000): Dir(beta K / K) = Dir(beta), the label skew of plain Dirichlet
    val nearEven = meanDistance(s => new DirichletPartitioner(10, 1.0, 1000, 0, 100, s))
    val plain = meanDistance(s => new DirichletPartitioner(10, 1.0, 0, 0, 100, s))
    assert(math.abs(nearEven - plain) < 0.05, s"dirichlet-quantity $nearEven, plain $plain")
    // labels near IID (beta 1000), sizes from Dir(0.1): far apart, yet each large client's labels near the whole's
    for (seed <- 0L until 5L) {
      val stats = statistics(new DirichletPartitioner(10, 1000, 0.1, 0, 100, seed), counts)
      val s = (0 until 10).map(stats.size)
      assert(s.max > 5 * s.min, s"seed $seed: $s")
      for (k <- 0 until 10 if s(k) > 100) assert(stats.distance(k) < 0.15, s"seed $seed client $k: ${stats.histogram(k).toSeq}")
    }
  }

  test("#C=k, shards and IID refuse what they cannot deal, and deal the limit cases they can") {
    def refusal(p: => Any) = intercept[IllegalArgumentException](p).getMessage
    // 4 clients, 1 label each: clients 0 and 2 hold label 0, which has one example
    assert(refusal(new LabelsPerClientPartitioner(4, 1, 0L).plan(Array(1L, 100L))) == "label 0 has 1 examples for 2 clients holding it")
    assert(refusal(new LabelsPerClientPartitioner(5, 1, 0L).plan(Array.fill(10)(10L))).startsWith("label 5 is held by no client"))
    assert(refusal(new LabelsPerClientPartitioner(4, 11, 0L).plan(Array.fill(10)(10L))) == "partition.labels-per-client = 11 but the data has 10 labels")
    val everyLabel = statistics(new LabelsPerClientPartitioner(4, 10, 0L), Array.fill(10)(10L))
    assert((0 until 4).forall(k => everyLabel.histogram(k).forall(_ > 0)))
    assert(refusal(new ShardPartitioner(10, 2, 0, 0L).plan(Array(19L))).startsWith("cannot cut 19 examples into 20 shards"))
    assert(refusal(new ShardPartitioner(10, 2, 5, 0L).plan(Array(99L))).startsWith("cannot cut 99 examples into 20 shards"))
    assert(sizes(new ShardPartitioner(10, 2, 5, 0L), Array(100L)).forall(_ == 10))
    assert(sizes(new IidPartitioner(600, 0L), Array(600L)).forall(_ == 1))
    val uneven = sizes(new IidPartitioner(12, 0L), Array(305L, 300L))
    assert(uneven.sum == 605 && uneven.forall(s => s == 50 || s == 51), uneven.toString)
    assert(refusal(new IidPartitioner(601, 0L).plan(Array(600L))) == "cannot split 600 examples into 601 non-empty clients")
  }

  test("feature noise: each feature of an example its own draw, seeded by the run's seed and the example's rank") {
    val zero = Array.fill(2)(0f)
    val seeded = new FeatureNoisePartitioner(4, 0.4, 1L)
    val noise = (0L until 2000L).map(rank => seeded.features(zero, 3, rank))
    def correlation(a: Seq[Double], b: Seq[Double]) = {
      val (ma, mb) = (a.sum / a.size, b.sum / b.size)
      val cov = a.zip(b).map { case (x, y) => (x - ma) * (y - mb) }.sum
      cov / math.sqrt(a.map(x => (x - ma) * (x - ma)).sum * b.map(y => (y - mb) * (y - mb)).sum)
    }
    // 2000 pairs: an independent pair's sample correlation has standard deviation about 0.022
    val r = correlation(noise.map(_(0).toDouble), noise.map(_(1).toDouble))
    assert(math.abs(r) < 0.1, s"features 0 and 1 of client 3's examples correlate: $r")
    val otherSeed = new FeatureNoisePartitioner(4, 0.4, 2L)
    for (rank <- 0L until 10L) assert(otherSeed.features(zero, 3, rank).toSeq != noise(rank.toInt).toSeq, s"rank $rank")
    assert(seeded.features(zero, 0, 5L) eq zero)
  }

  test("every setting that changes a partitioning is in its name, and fromConfig puts each setting in its place") {
    def distinct(ids: Seq[String]) = assert(ids.distinct.size == ids.size, ids.toString)
    distinct(Seq(new IidPartitioner(10, 1L), new IidPartitioner(11, 1L), new IidPartitioner(10, 2L)).map(_.id()))
    distinct(Seq(new ShardPartitioner(10, 2, 0, 1L), new ShardPartitioner(11, 2, 0, 1L), new ShardPartitioner(10, 3, 0, 1L),
      new ShardPartitioner(10, 2, 5, 1L), new ShardPartitioner(10, 2, 0, 2L)).map(_.id()))
    distinct(Seq(new DirichletPartitioner(10, 0.5, 0, 1, 100, false, 1L), new DirichletPartitioner(11, 0.5, 0, 1, 100, false, 1L),
      new DirichletPartitioner(10, 0.6, 0, 1, 100, false, 1L), new DirichletPartitioner(10, 0.5, 2.0, 1, 100, false, 1L),
      new DirichletPartitioner(10, 0.5, 3.0, 1, 100, false, 1L), new DirichletPartitioner(10, 0.5, 0, 2, 100, false, 1L),
      new DirichletPartitioner(10, 0.5, 0, 1, 100, true, 1L), new DirichletPartitioner(10, 0.5, 0, 1, 100, false, 2L)).map(_.id()))
    distinct(Seq(new QuantityPartitioner(10, 0.5, 1, 100, 1L), new QuantityPartitioner(11, 0.5, 1, 100, 1L),
      new QuantityPartitioner(10, 0.6, 1, 100, 1L), new QuantityPartitioner(10, 0.5, 2, 100, 1L), new QuantityPartitioner(10, 0.5, 1, 100, 2L)).map(_.id()))
    distinct(Seq(new LabelsPerClientPartitioner(10, 2, 1L), new LabelsPerClientPartitioner(11, 2, 1L), new LabelsPerClientPartitioner(10, 3, 1L),
      new LabelsPerClientPartitioner(10, 2, 2L)).map(_.id()))
    distinct(Seq(new FeatureNoisePartitioner(10, 0.1, 1L), new FeatureNoisePartitioner(11, 0.1, 1L), new FeatureNoisePartitioner(10, 0.2, 1L),
      new FeatureNoisePartitioner(10, 0.1, 2L)).map(_.id()))
    distinct(Seq(new NaturalIdPartitioner("user", 0, 1L), new NaturalIdPartitioner("writer", 0, 1L), new NaturalIdPartitioner("user", 5, 1L),
      new NaturalIdPartitioner("user", 6, 1L), new NaturalIdPartitioner("user", 5, 2L)).map(_.id()))

    // every setting a different value, so a setting read into another's place shows in the name
    def fromConfig(scheme: String, extra: String = "") = Partitioners.fromConfig(ConfigFactory.parseString(
      s"""scheme = $scheme, clients = 7, seed = 3, beta = 0.25, quantity-beta = 4.0, min-client-size = 2, max-attempts = 9,
         |balance = false, shards-per-client = 3, shard-size = 40, labels-per-client = 5, sigma = 0.3, column = user, $extra""".stripMargin)).id()
    assert(fromConfig("iid") == "iid-k7-seed3")
    assert(fromConfig("shards") == "shards-k7-s3-size40-seed3")
    assert(fromConfig("dirichlet") == "dirichlet-k7-b0.25-min2-seed3")
    assert(fromConfig("dirichlet", "balance = true") == "dirichlet-k7-b0.25-balanced-min2-seed3")
    assert(fromConfig("dirichlet-quantity") == "dirichlet-quantity-k7-b0.25-q4.0-min2-seed3")
    assert(fromConfig("labels") == "labels-k7-c5-seed3")
    assert(fromConfig("quantity") == "quantity-k7-b0.25-min2-seed3")
    assert(fromConfig("noise") == "noise-k7-sigma0.3-upto-last-seed3")
    assert(fromConfig("natural") == "natural-user-k7-seed3")
  }
}
