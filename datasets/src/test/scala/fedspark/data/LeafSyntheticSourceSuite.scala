package fedspark.data

import org.apache.commons.math3.distribution.NormalDistribution
import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.LocalSpark

/**
 * LeafSyntheticSource against the recipe of litian96/FedProx's data/synthetic_(alpha)_(beta)/generate_synthetic.py: every
 * statistic of a large draw within 4.5 standard errors of what the recipe implies.
 */
class LeafSyntheticSourceSuite extends AnyFunSuite with LocalSpark {

  private val normal = new NormalDistribution(0, 1)

  /** Mean and variance of a sample. */
  private def moments(xs: Seq[Double]): (Double, Double) = {
    val m = xs.sum / xs.size
    (m, xs.map(x => (x - m) * (x - m)).sum / (xs.size - 1))
  }

  /** |sample variance / sigma2 - 1| within 4.5 standard errors (sqrt(2 / (n - 1)) for a normal sample). */
  private def varianceNear(xs: Seq[Double], sigma2: Double, what: String): Unit = {
    val (_, v) = moments(xs)
    val se = math.sqrt(2.0 / (xs.size - 1))
    assert(math.abs(v / sigma2 - 1) < 4.5 * se, s"$what: variance $v, recipe $sigma2 (n ${xs.size})")
  }

  private def meanNear(xs: Seq[Double], mu: Double, sigma2: Double, what: String): Unit = {
    val (m, _) = moments(xs)
    assert(math.abs(m - mu) < 4.5 * math.sqrt(sigma2 / xs.size), s"$what: mean $m, recipe $mu (n ${xs.size})")
  }

  test("sizes: int(lognormal(4, 2)) + 50; P(n - 50 >= t) = 1 - Phi((ln t - 4) / 2) at every threshold, and a 90/10 split") {
    val drawn = (0 until 40).map(k => LeafSyntheticSource.device(7L, k, 0.5, 0.5, false, 0.9))
    assert(drawn.forall(d => d.size == LeafSyntheticSource.deviceSize(7L, d.index) && d.trainSize == (0.9 * d.size).toInt
      && d.y.length == d.x.length))
    val sizes = (0 until 40000).map(k => LeafSyntheticSource.deviceSize(7L, k))
    assert(sizes.min >= 50)
    for (t <- Seq(1, 10, 30, 55, 150, 400, 3000)) {
      val p = 1 - normal.cumulativeProbability((math.log(t) - 4) / 2)
      val observed = sizes.count(_ - 50 >= t).toDouble / sizes.size
      val se = math.sqrt(p * (1 - p) / sizes.size)
      assert(math.abs(observed - p) < 4.5 * se, s"P(n - 50 >= $t): $observed, recipe $p")
    }
  }

  test("Synthetic(alpha, beta): u_k ~ N(0, alpha), B_k ~ N(0, beta) (standard deviations), W_k, b_k ~ N(u_k, 1), v_k ~ N(B_k, 1)") {
    for ((alpha, beta) <- Seq((0.5, 0.5), (1.0, 1.0), (0.5, 1.0))) {
      val devices = (0 until 3000).map(k => LeafSyntheticSource.deviceModel(11L, k, alpha, beta, false, 0.9))
      meanNear(devices.map(_.u), 0, alpha * alpha, s"u ($alpha, $beta)")
      varianceNear(devices.map(_.u), alpha * alpha, s"u ($alpha, $beta)")
      varianceNear(devices.map(_.bigB), beta * beta, s"B ($alpha, $beta)")
      // u and B independent
      val cov = devices.map(d => d.u * d.bigB).sum / devices.size
      assert(math.abs(cov) < 4.5 * alpha * beta / math.sqrt(devices.size), s"cov(u, B) = $cov")
      // within a device: W - u, b - u and v - B are N(0, 1), pooled over devices
      val wResiduals = devices.take(300).flatMap(d => d.w.flatten.toSeq.map(_ - d.u))
      meanNear(wResiduals, 0, 1, "W - u")
      varianceNear(wResiduals, 1, "W - u")
      val bResiduals = devices.flatMap(d => d.b.map(_ - d.u))
      meanNear(bResiduals, 0, 1, "b - u")
      varianceNear(bResiduals, 1, "b - u")
      val vResiduals = devices.take(500).flatMap(d => d.v.map(_ - d.bigB))
      meanNear(vResiduals, 0, 1, "v - B")
      varianceNear(vResiduals, 1, "v - B")
    }
  }

  test("one device's examples: x ~ N(v_k, diag(j^-1.2)) and y = argmax(x W_k + b_k)") {
    // a device with at least 20,000 examples: the first one the seed gives
    val k = Iterator.from(0).find(k => LeafSyntheticSource.deviceSize(5L, k) >= 20000).get
    val d = LeafSyntheticSource.device(5L, k, 1.0, 1.0, false, 0.9)
    val n = d.size
    val diagonal = LeafSyntheticSource.covarianceDiagonal()
    assert(math.abs(diagonal(0) - 1) < 1e-15 && math.abs(diagonal(59) - math.pow(60, -1.2)) < 1e-15)
    for (j <- 0 until 60) {
      val column = d.x.map(_(j).toDouble).toSeq
      meanNear(column, d.v()(j), diagonal(j), s"x_$j")
      varianceNear(column, diagonal(j), s"x_$j")
    }
    // uncorrelated features: the correlation of a few pairs within 4.5 / sqrt(n)
    for ((i, j) <- Seq((0, 1), (0, 59), (3, 17), (40, 41))) {
      val (mi, _) = moments(d.x.map(_(i).toDouble).toSeq)
      val (mj, _) = moments(d.x.map(_(j).toDouble).toSeq)
      val c = d.x.map(r => (r(i) - mi) * (r(j) - mj)).sum / n / math.sqrt(diagonal(i) * diagonal(j))
      assert(math.abs(c) < 4.5 / math.sqrt(n), s"corr(x_$i, x_$j) = $c")
    }
    for (i <- 0 until n) {
      val scores = (0 until 10).map(c => d.b()(c) + (0 until 60).map(j => d.x()(i)(j).toDouble * d.w()(j)(c)).sum)
      // float features: a label may differ from the double argmax only at a near-tie
      val top = scores.max
      assert(scores(d.y()(i)) > top - 1e-4, s"example $i: label ${d.y()(i)}, scores $scores")
    }
  }

  test("the IID variant: one W and b for every device, x ~ N(0, diag(j^-1.2)); seeded; the tables with the device as user") {
    val d0 = LeafSyntheticSource.device(3L, 0, 0, 0, true, 0.9)
    val d1 = LeafSyntheticSource.device(3L, 1, 0, 0, true, 0.9)
    assert(d0.w.flatten.toSeq == d1.w.flatten.toSeq && d0.b.toSeq == d1.b.toSeq && d0.v.forall(_ == 0))
    val ws = (0 until 200).map(k => LeafSyntheticSource.deviceModel(3L + k, 0, 0, 0, true, 0.9)).flatMap(_.w.flatten.toSeq)
    meanNear(ws, 0, 1, "IID W")
    varianceNear(ws, 1, "IID W")
    val pooled = (0 until 200).flatMap(k => LeafSyntheticSource.device(3L, k, 0, 0, true, 0.9).x.map(_(0).toDouble))
    meanNear(pooled, 0, 1, "IID x_0")
    varianceNear(pooled, 1, "IID x_0")
    // Synthetic(0, 0) is not the IID variant: each device has its own W and v
    val z0 = LeafSyntheticSource.device(3L, 0, 0, 0, false, 0.9)
    val z1 = LeafSyntheticSource.device(3L, 1, 0, 0, false, 0.9)
    assert(z0.w.flatten.toSeq != z1.w.flatten.toSeq && z0.v.toSeq != z1.v.toSeq)
    assert(LeafSyntheticSource.device(3L, 4, 1, 1, false, 0.9).y.sameElements(LeafSyntheticSource.device(3L, 4, 1, 1, false, 0.9).y))

    val out = fresh("leaf-synthetic")
    LeafSyntheticSource.prepare(spark, 30, 1, 1, false, 0.9, 3L, new Path(out))
    val expected = (0 until 30).map(k => LeafSyntheticSource.device(3L, k, 1, 1, false, 0.9))
    for ((split, size) <- Seq("train" -> ((d: LeafSyntheticSource.Device) => d.trainSize),
                              "test" -> ((d: LeafSyntheticSource.Device) => d.size - d.trainSize))) {
      val table = spark.read.parquet(out + "/" + split)
      assert(table.columns.toSeq == Seq("label", "features", "user"))
      val counted = table.groupBy("user").count().collect().map(r => r.getString(0) -> r.getLong(1)).toMap
      assert(counted == expected.map(d => d.name -> size(d).toLong).toMap, split)
      val info = DatasetInfo.read(new Path(out, split), spark.sparkContext.hadoopConfiguration)
      assert(info.features == 60 && info.examples == expected.map(size).sum)
    }
    val first = spark.read.parquet(out + "/test").where("user = 'f_00002'").collect().map(r => r.getInt(0)).sorted.toSeq
    assert(first == expected(2).y.drop(expected(2).trainSize).sorted.toSeq)
  }
}
