package fedspark.data

import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.LocalSpark

class SyntheticSourceSuite extends AnyFunSuite with LocalSpark {

  test("synthetic users: power-law sizes of at least one example, seeded, each user a run of examples of its own") {
    val out = fresh("synthetic")
    SyntheticSource.prepare(spark, 10000, 200, 8, 4, 3L, 500, 2.0, new Path(out))
    val starts = SyntheticSource.userStarts(500, 10000, 2.0, 3L)
    assert(starts.sameElements(SyntheticSource.userStarts(500, 10000, 2.0, 3L)))
    assert(!starts.sameElements(SyntheticSource.userStarts(500, 10000, 2.0, 4L)))
    val sizes = starts.sliding(2).map(p => p(1) - p(0)).toSeq
    assert(sizes.min >= 1)
    val median = sizes.sorted.apply(250)
    assert(sizes.max > 8 * median, s"a heavy tail: max ${sizes.max}, median $median")
    assert(math.abs(starts.last - 10000) < 3000, s"about the asked examples: ${starts.last}")

    val train = spark.read.parquet(out + "/train")
    assert(train.columns.toSeq == Seq("label", "features", "user"))
    assert(train.count() == starts.last && DatasetInfo.read(new Path(out, "train"), spark.sparkContext.hadoopConfiguration).examples == starts.last)
    val counted = train.groupBy("user").count().collect().map(r => r.getString(0).drop(1).toInt -> r.getLong(1)).toMap
    assert(counted.size == 500 && (0 until 500).forall(u => counted(u) == sizes(u)))
    assert(!spark.read.parquet(out + "/test").columns.contains("user"), "test examples belong to no user")
    assert(intercept[BadInputException](SyntheticSource.prepare(spark, 100, 10, 8, 4, 3L, 10, 1.0, new Path(fresh("x"))))
      .getMessage.contains("user-size-alpha"))
  }

  test("an example is drawn from the seed and its id: another seed or id, another example") {
    def x(id: Long, seed: Long) = SyntheticSource.example(id, 8, 4, seed).getAs[Array[Float]](1).toSeq
    assert(x(5, 1L) == x(5, 1L) && x(5, 1L) != x(5, 2L) && x(5, 1L) != x(6, 1L))
    def device(seed: Long, k: Int) = LeafSyntheticSource.device(seed, k, 1.0, 1.0, false, 0.9).x().map(_.toSeq).toSeq
    assert(device(1L, 0) != device(2L, 0) && device(1L, 0) != device(1L, 1))
  }
}
