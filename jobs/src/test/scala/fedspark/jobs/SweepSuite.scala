package fedspark.jobs

import java.io.File
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

import org.apache.spark.sql.SparkSession
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

class SweepSuite extends AnyFunSuite with BeforeAndAfterAll {

  private val scratch = Files.createTempDirectory("fedspark-sweep-")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)
  private lazy val spark = SparkSession.builder().master("local[2]").appName("sweep").config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4").getOrCreate()

  override def afterAll(): Unit = {
    spark.stop()
    TestData.deleteRecursively(scratch)
  }

  private val conf = {
    val file = scratch.resolve("grid.conf")
    Files.writeString(file,
      s"""fedspark {
         |  name = grid
         |  model = logreg
         |  data { source { format = idx, path = "$idx" }, prepared = "$scratch/prepared" }
         |  partition { scheme = iid, clients = 6, seed = 0 }
         |  train { rounds = 4, C = 0.5, E = 1, B = 10, lr = 0.2, seed = 1 }
         |  sweep {
         |    dir = "$scratch/sweep"
         |    target = 0.5
         |    axes { "train.C" = [0.5, 1.0], "train.E" = [1, 2] }
         |    reference { "train.C" = 0.5, "train.E" = 1 }
         |  }
         |}""".stripMargin)
    file.toFile
  }

  private def csvRows(file: String) = Files.readAllLines(Paths.get(file)).asScala.toList

  test("the results of hand-made metrics: rounds and passes to the target (reached at equality), data passes, speedup") {
    val sweep = new Sweep(Experiment.load(conf.getPath))
    val points = sweep.points()
    def rows(accuracies: Seq[Double], samples: Seq[Long]) = accuracies.zip(samples).zipWithIndex.map { case ((a, n), i) =>
      new _root_.fedspark.engine.RoundMetrics(i + 1, 3, n, 1.0, 1.0, a, 0.1) }.asJava
    // points C=0.5_E=1 (the reference), C=0.5_E=2, C=1_E=1, C=1_E=2
    val metrics = Map(
      points.get(0) -> rows(Seq(0.3, 0.5, 0.6, 0.7), Seq(30L, 31L, 32L, 33L)),
      points.get(1) -> rows(Seq(0.2, 0.3, 0.4, 0.55), Seq(10L, 20L, 30L, 40L)),
      points.get(2) -> rows(Seq(0.6, 0.4, 0.7, 0.8), Seq(60L, 60L, 60L, 60L)),
      points.get(3) -> rows(Seq(0.1, 0.2, 0.3, 0.4), Seq(5L, 5L, 5L, 5L))).asJava
    val skipped = points.asScala.map(p => p -> java.lang.Boolean.FALSE).toMap.asJava
    val examples = points.asScala.map(p => p -> java.lang.Long.valueOf(120L)).toMap.asJava
    val results = sweep.results(points, metrics, skipped, examples, 0.5).asScala
    def of(r: Sweep.Result) = (r.roundsToTarget, r.speedup, r.passesToTarget, r.passes, r.bestAccuracy, r.finalAccuracy)
    assert(of(results(0)) == ((2, 1.0, 61L, 126L, 0.7, 0.7)))
    assert(of(results(1)) == ((4, 0.5, 200L, 200L, 0.55, 0.55)))
    assert(of(results(2)) == ((1, 2.0, 60L, 240L, 0.8, 0.8)))
    assert(results(3).roundsToTarget == null && results(3).speedup == null && results(3).passesToTarget == 0L && results(3).dataPassesToTarget.isNaN)
    assert(results(0).dataPassesToTarget == 61.0 / 120 && results(0).dataPasses == 126.0 / 120 && results(1).dataPasses == 200.0 / 120)
  }

  test("a 2x2 sweep: one run per point, rounds to target from its metrics, speedup against the reference, then skips") {
    val log = new java.util.ArrayList[String]()
    val results = new Sweep(Experiment.load(conf.getPath)).run(spark, line => log.add(line)).asScala
    assert(results.map(_.point.name) == Seq("C=0.5_E=1", "C=0.5_E=2", "C=1_E=1", "C=1_E=2"))
    assert(results.forall(!_.skipped))
    val reference = results.head.roundsToTarget
    for (r <- results) {
      val metrics = csvRows(s"$scratch/sweep/${r.point.name}/metrics.csv").tail.map(_.split(","))
      assert(metrics.size == 4 && r.rounds == 4)
      val firstReaching = metrics.find(_(5).toDouble >= 0.5).map(_(0).toInt)
      assert(Option(r.roundsToTarget).map(_.intValue) == firstReaching, r.point.name)
      assert(r.bestAccuracy == metrics.map(_(5).toDouble).max)
      val epochs = r.point.settings.get("train.E").toString.toLong
      assert(r.passes == metrics.map(_(2).toLong * epochs).sum)
      if (reference != null && r.roundsToTarget != null) assert(r.speedup == reference.toDouble / r.roundsToTarget)
    }
    val table = csvRows(s"$scratch/sweep/results.csv")
    assert(table.head.startsWith("point,train.C,train.E,rounds,final_accuracy,best_accuracy,rounds_to_target,speedup"))
    assert(table.size == 5)
    assert(new File(s"$scratch/sweep/results.md").length() > 0 && new File(s"$scratch/sweep/accuracy.png").length() > 1000)
    assert(spark.read.parquet(s"$scratch/sweep/results").count() == 4)

    // Started again: finished points are read back, not run; a point without its model runs again.
    Files.delete(Paths.get(s"$scratch/sweep/C=1_E=2/model.zip"))
    val again = new Sweep(Experiment.load(conf.getPath)).run(spark, line => ()).asScala
    assert(again.map(_.skipped) == Seq(true, true, true, false))
    assert(again.map(_.finalAccuracy) == results.map(_.finalAccuracy), "the same seed gives the same runs")

    // The same seed gives the same runs: every point again in another folder, the same models to the bit.
    new Sweep(Experiment.load(conf.getPath).set("sweep.dir", s"$scratch/sweep-again")).run(spark, line => ())
    for (r <- results) {
      assert(parameters(s"$scratch/sweep/${r.point.name}").sameElements(parameters(s"$scratch/sweep-again/${r.point.name}")), r.point.name)
    }
  }

  test("train.stop-at-accuracy ends each point at the first round reaching it; stopped points and raised budgets go on from checkpoints") {
    val target = 0.3 // slow learning, so that points reach it after a few rounds or not at all
    val base = Experiment.load(conf.getPath).set("sweep.dir", s"$scratch/sweep-to-target").set("train.rounds", 8)
      .set("train.lr", 0.003).set("train.B", "inf").set("train.stop-at-accuracy", target).set("sweep.target", target).set("train.checkpoint-every", 1)
    val sweep = new Sweep(base)
    val point = sweep.points().asScala.find(_.name == "C=0.5_E=2").get
    val pointDir = s"$scratch/sweep-to-target/${point.name}"
    val stopped = intercept[Experiment.RunStopped](
      sweep.experimentOf(point).set("train.stop-after-round", 2).train(spark, new org.apache.hadoop.fs.Path(pointDir), line => ()))
    assert(stopped.getMessage.contains("stopped after round 2"))

    // the sweep with a smaller budget first: the stopped point goes on from its checkpoint, every point ends after round 4
    val shortLog = new java.util.ArrayList[String]()
    val short = new Sweep(base.set("train.rounds", 4)).run(spark, line => shortLog.add(line)).asScala
    assert(shortLog.asScala.contains(s"sweep: ${point.name} goes on from its checkpoint"), shortLog)
    assert(short.forall(_.rounds == 4))
    // then its budget raised to 8: every point goes on from its last round
    val log = new java.util.ArrayList[String]()
    val results = sweep.run(spark, line => log.add(line)).asScala
    assert(results.forall(r => log.asScala.contains(s"sweep: ${r.point.name} goes on from its checkpoint")), log)
    for (r <- results) {
      val accuracies = csvRows(s"$scratch/sweep-to-target/${r.point.name}/metrics.csv").tail.map(_.split(",")(5).toDouble)
      val first = accuracies.indexWhere(_ >= target)
      assert(accuracies.size == (if (first < 0) 8 else first + 1), s"${r.point.name}: $accuracies")
      assert(Option(r.roundsToTarget).map(_.intValue) == Option(first + 1).filter(_ > 0))
    }
    assert(results.exists(_.rounds < 8) && results.exists(_.rounds == 8), "some points stop before the last round, some do not")
    assert(results.find(_.point.name == point.name).get.rounds > 2, "the resumed point reaches the target after its checkpoint")
    // read back, not run again: a point that stopped at the target is finished
    assert(new Sweep(base).run(spark, line => ()).asScala.forall(_.skipped))

    // stopped, resumed and extended, every point ends as it does run whole
    new Sweep(base.set("sweep.dir", s"$scratch/sweep-to-target-whole")).run(spark, line => ())
    for (r <- results) {
      val (pieces, whole) = (s"$scratch/sweep-to-target/${r.point.name}", s"$scratch/sweep-to-target-whole/${r.point.name}")
      assert(parameters(pieces).sameElements(parameters(whole)), r.point.name)
      assert(csvRows(s"$pieces/metrics.csv").map(withoutSeconds) == csvRows(s"$whole/metrics.csv").map(withoutSeconds), r.point.name)
    }
  }

  private def parameters(dir: String) = fedspark.models.FlatParameters.of(
    org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(new File(dir, "model.zip")))

  private def withoutSeconds(row: String) = row.split(",").patch(6, Nil, 1).mkString(",")

  test("a sweep without axes, or with an axis that is not a setting, is refused") {
    val noAxes = intercept[fedspark.data.BadInputException](new Sweep(Experiment.defaults()))
    assert(noAxes.getMessage.contains("sweep.axes"))
    val bad = Experiment.load(conf.getPath).set("sweep.axes", java.util.Map.of("train.banana", java.util.List.of(1, 2)))
    assert(intercept[fedspark.data.BadInputException](new Sweep(bad).points()).getMessage.contains("train.banana"))
    val early = Experiment.load(conf.getPath).set("train.stop-at-accuracy", 0.4)
    assert(intercept[fedspark.data.BadInputException](new Sweep(early)).getMessage.contains("below sweep.target"))
  }
}
