package fedspark.partition

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.{col, concat, lit, pmod, xxhash64}
import org.scalatest.funsuite.AnyFunSuite

import fedspark.partition.stats.PartitionStatistics
import fedspark.testing.{LocalSpark, TestData}

/** Properties of every scheme: nothing lost or duplicated, the skew each one promises, seeds. */
class SkewSuite extends AnyFunSuite with LocalSpark {

  private val n = 2000
  private val classes = 10
  private lazy val table = TestData.table(spark, n, 3, classes, 21L)
    .withColumn("user", concat(lit("writer-"), pmod(xxhash64(col("features")), lit(37)).cast("string"))).cache()

  private def statistics(assigned: DataFrame, clients: Int) = PartitionStatistics.of(assigned, clients, classes)

  /** Every example, identified by its features, appears in exactly one client. */
  private def assertExactlyOnce(assigned: DataFrame): Unit = {
    val before = table.select("label", "features").collect().map(r => (r.getInt(0), r.getSeq[Float](1))).toSeq
    val after = assigned.select("label", "features").collect().map(r => (r.getInt(0), r.getSeq[Float](1))).toSeq
    assert(after.size == before.size)
    def counts(rows: Seq[(Int, Seq[Float])]) = rows.groupBy(identity).map { case (row, copies) => row -> copies.size }
    assert(counts(after) == counts(before))
  }

  private val schemes: Seq[(String, Long => Partitioner)] = Seq(
    "iid" -> (s => new IidPartitioner(20, s)),
    "shards" -> (s => new ShardPartitioner(20, 2, 0, s)),
    "dirichlet" -> (s => new DirichletPartitioner(20, 0.3, 0, 1, 100, s)),
    "labels" -> (s => new LabelsPerClientPartitioner(20, 3, s)),
    "quantity" -> (s => new QuantityPartitioner(20, 0.5, 1, 100, s)),
    "dirichlet-quantity" -> (s => new DirichletPartitioner(20, 0.3, 2.0, 0, 100, s)),
    "natural grouped" -> (s => new NaturalIdPartitioner("user", 10, s)))

  for ((name, scheme) <- schemes) {
    test(s"$name: every example lands in exactly one client; the same seed gives the same assignment, another seed another") {
      val assigned = scheme(1L).assign(table).cache()
      assertExactlyOnce(assigned)
      def assignment(df: DataFrame) = df.collect().map(r => (r.getAs[Seq[Float]]("features"), r.getAs[Int]("client"))).toMap
      assert(assignment(assigned) == assignment(scheme(1L).assign(table)))
      assert(assignment(assigned) != assignment(scheme(2L).assign(table)))
      assigned.unpersist()
    }
  }

  test("#C=k gives each client exactly k labels, and splits each label evenly among its holders") {
    for (k <- Seq(1, 2, 3)) {
      val stats = statistics(new LabelsPerClientPartitioner(10, k, 3L).assign(table), 10)
      for (client <- 0 until 10) assert(stats.histogram(client).count(_ > 0) == k, s"k=$k client $client")
      for (label <- 0 until classes) {
        val shares = (0 until 10).map(stats.histogram(_)(label)).filter(_ > 0)
        assert(shares.max - shares.min <= 1, s"label $label split $shares")
      }
    }
  }

  test("shards of a given size give each client s * size examples") {
    val stats = statistics(new ShardPartitioner(8, 3, 50, 5L).assign(table), 8)
    assert((0 until 8).forall(stats.size(_) == 150))
  }

  test("Dirichlet, balanced as NIID-Bench deals it: no label goes to a client already holding N/K; sizes closer together") {
    val clients = 10
    val balanced = statistics(new DirichletPartitioner(clients, 0.5, 0, 1, 100, true, 4L).assign(table), clients)
    val plain = statistics(new DirichletPartitioner(clients, 0.5, 0, 1, 100, false, 4L).assign(table), clients)
    // labels are dealt 0, 1, 2, ...: replay the deal and check that every share went to a client below N/K at the time
    val held = Array.fill(clients)(0L)
    for (label <- 0 until classes) {
      for (client <- 0 until clients if held(client) >= n / clients) {
        assert(balanced.histogram(client)(label) == 0, s"label $label went to client $client holding ${held(client)} >= ${n / clients}")
      }
      for (client <- 0 until clients) held(client) += balanced.histogram(client)(label)
    }
    def spread(s: PartitionStatistics) = (0 until clients).map(s.size).max - (0 until clients).map(s.size).min
    assert(spread(balanced) < spread(plain), s"balanced ${(0 until clients).map(balanced.size)} plain ${(0 until clients).map(plain.size)}")
    assert(new DirichletPartitioner(clients, 0.5, 0, 1, 100, true, 4L).id() != new DirichletPartitioner(clients, 0.5, 0, 1, 100, false, 4L).id())
  }

  test("Dirichlet: a very large beta is close to IID, beta = 0.05 far from it (mean total variation distance)") {
    val iidLike = statistics(new DirichletPartitioner(10, 1000.0, 0, 1, 100, 1L).assign(table), 10).summary()
    val skewed = statistics(new DirichletPartitioner(10, 0.05, 0, 1, 1000, 1L).assign(table), 10).summary()
    // thresholds: IID sampling noise alone gives about 0.05 here; Dir(0.05) puts most of a client on one or two labels
    assert(iidLike.meanDistance < 0.1, iidLike.line())
    assert(skewed.meanDistance > 0.5, skewed.line())
  }

  test("quantity skew: sizes sum to n, labels stay close to IID within large clients") {
    val stats = statistics(new QuantityPartitioner(10, 0.3, 1, 100, 4L).assign(table), 10)
    val sizes = (0 until 10).map(stats.size)
    assert(sizes.sum == n)
    assert(sizes.max > 3 * sizes.min, sizes.toString)
    val largest = sizes.indexOf(sizes.max)
    assert(stats.distance(largest) < 0.15)
  }

  test("feature noise: client k's noise has standard deviation sigma * k / (K - 1) as NIID-Bench's, labels untouched, sizes as IID") {
    // Every example's features are 0.5, so what a client's features differ from 0.5 by is exactly its noise.
    import spark.implicits._
    val flat = (0 until n).map(i => (i % classes, Array.fill(9)(0.5f))).toDF("label", "features")
    val assigned = new FeatureNoisePartitioner(4, 0.4, 2L).assign(flat).select("client", "label", "features").collect()
    assert(assigned.length == n && assigned.groupBy(_.getInt(0)).values.forall(_.length == n / 4))
    assert(assigned.map(_.getInt(1)).groupBy(identity).map { case (y, ys) => y -> ys.length } == (0 until n).map(_ % classes).groupBy(identity).map { case (y, ys) => y -> ys.length },
      "labels changed")
    for ((client, rows) <- assigned.groupBy(_.getInt(0))) {
      val noise = rows.flatMap(_.getSeq[Float](2).map(_ - 0.5))
      val mean = noise.sum / noise.length
      val std = math.sqrt(noise.map(x => (x - mean) * (x - mean)).sum / noise.length)
      val expected = 0.4 * client / 3
      // 500 examples x 9 features a client: the sample std is within about 2% of the true one
      assert(math.abs(std - expected) <= 0.05 * expected + 1e-6 && math.abs(mean) <= 0.05 * expected + 1e-6,
        s"client $client: noise mean $mean, std $std, expected $expected")
    }
  }

  test("natural ids: one client per id, or the ids grouped into K clients, never split") {
    val perId = new NaturalIdPartitioner("user", 0, 0L)
    val assigned = perId.assign(table)
    assert(perId.clients() == 37)
    assert(assigned.select("user", "client").distinct().count() == 37)
    val grouped = new NaturalIdPartitioner("user", 5, 0L).assign(table)
    assert(grouped.select("user", "client").distinct().groupBy("user").count().filter(col("count") > 1).count() == 0)
    assert(grouped.select("client").distinct().count() == 5)
    val missing = intercept[fedspark.data.BadInputException](new NaturalIdPartitioner("writer", 0, 0L).assign(table))
    assert(missing.getMessage.contains("'writer'"))
  }

  test("a grouped scheme shuffles the examples within each label: a client's share of a label is not a run of the input's order") {
    import spark.implicits._
    val ordered = (0 until 1000).map(i => (0, Array(i.toFloat))).toDF("label", "features")
    val assigned = new DirichletPartitioner(2, 100, 0, 0, 10, 1L).assign(ordered).collect()
      .map(r => (r.getAs[Int]("client"), r.getAs[scala.collection.Seq[Float]]("features").head)).groupBy(_._1).map { case (k, v) => k -> v.map(_._2) }
    assert(assigned.keySet == Set(0, 1) && assigned.values.map(_.length).sum == 1000)
    assert(assigned(0).max > assigned(1).min && assigned(1).max > assigned(0).min, "the clients' examples interleave")
  }

  test("natural ids: clients numbered in id order; grouped ids as evenly as can be; a row without an id refused") {
    val perId = new NaturalIdPartitioner("user", 0, 0L).assign(table).select("user", "client").distinct().collect()
      .map(r => r.getString(0) -> r.getInt(1)).toMap
    val users = perId.keys.toSeq.sorted
    assert(users.size == 37 && users.map(perId) == (0 until 37))
    val grouped = new NaturalIdPartitioner("user", 5, 0L).assign(table).select("user", "client").distinct()
      .groupBy("client").count().collect().map(_.getLong(1)).sorted.toSeq
    assert(grouped == Seq(7L, 7L, 7L, 8L, 8L), grouped.toString)
    assert(new NaturalIdPartitioner("user", 37, 0L).assign(table).select("client").distinct().count() == 37)
    val withoutId = table.withColumn("user", org.apache.spark.sql.functions.when(col("label") === 2, null).otherwise(col("user")))
    val error = intercept[fedspark.data.BadInputException](new NaturalIdPartitioner("user", 0, 0L).assign(withoutId))
    assert(error.getMessage == "column 'user' has rows without an id")
  }

  test("an impossible minimum client size is a clear error after the bounded number of draws") {
    val error = intercept[IllegalArgumentException](new DirichletPartitioner(50, 0.01, 0, 35, 5, 1L).assign(table))
    assert(error.getMessage.contains("after 5 draws") && error.getMessage.contains("min-client-size = 35"), error.getMessage)
    val impossible = intercept[IllegalArgumentException](new DirichletPartitioner(50, 0.5, 0, 100, 5, 1L).assign(table))
    assert(impossible.getMessage.contains("at least 100"))
  }

  test("statistics: entropy, distance and summary of a hand-made partitioning") {
    val stats = new PartitionStatistics(Array(Array(5L, 5L), Array(10L, 0L), Array(0L, 0L), Array(0L, 20L)))
    assert(stats.entropy(0) == 1.0 && stats.entropy(1) == 0.0)
    // global: 15 of label 0, 25 of label 1 -> (0.375, 0.625)
    assert(math.abs(stats.distance(0) - 0.125) < 1e-12)
    assert(math.abs(stats.distance(1) - 0.625) < 1e-12)
    assert(stats.distance(2).isNaN)
    val summary = stats.summary()
    assert(summary.emptyClients == 1 && summary.minSize == 0 && summary.maxSize == 20 && summary.medianSize == 10)
    assert(math.abs(summary.meanDistance - (0.125 + 0.625 + 0.375) / 3) < 1e-12)
  }

  test("segment plans map ranks through empty labels and empty segments") {
    // labels of sizes 3, 0, 2; label 0 cut 2/0/1 over clients 7, 8, 9; label 2 all to client 4
    val plan = new SegmentPlan(Array(3L, 0L, 2L), Array(Array(7, 8, 9), Array[Int](), Array(4)), Array(Array(2L, 2L, 3L), Array[Long](), Array(2L)))
    assert((0L until 5L).map(plan.client) == Seq(7, 7, 9, 4, 4))
  }
}
