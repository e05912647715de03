package fedspark.jobs

import java.io.File

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

/** Every experiment shipped in conf/ loads as a user would load it: known settings only, includes and substitutions
 * resolved, a partitioning scheme that exists, and for sweeps the grid of points they promise. */
class ShippedConfsSuite extends AnyFunSuite {

  private val confs = new File("../conf").listFiles().filter(_.getName.endsWith(".conf")).sortBy(_.getName).toSeq

  test("every conf/*.conf loads, names a known partitioning scheme, and a sweep's points load too") {
    assert(confs.size > 40, s"found only ${confs.size} files in ../conf")
    for (file <- confs) {
      val experiment = withClue(file.getName + ": ") { Experiment.load(file, java.util.List.of()) }
      withClue(file.getName + ": ") { experiment.partitioner() }
      if (experiment.config().hasPath("sweep.axes")) {
        val sweep = new Sweep(experiment)
        val points = sweep.points().asScala
        assert(points.nonEmpty, file.getName)
        points.foreach(p => withClue(s"${file.getName} ${p.name()}: ") {
          val experiment = sweep.experimentOf(p)
          experiment.partitioner()
          // every axis of the point set in its experiment, not only the last
          p.settings().asScala.foreach { case (key, value) => assert(experiment.config().getValue(key).unwrapped() == value, key) }
        })
      }
    }
  }

  test("each NIID-Bench split sweeps the four algorithms into its own folder, with NIID-Bench's biases") {
    val splits = Seq("iid", "dir05", "c1", "c2", "c3", "noise", "quantity")
    for (split <- splits) {
      val experiment = Experiment.load(s"../conf/niid-bench-$split.conf")
      val config = experiment.config()
      assert(config.getString("sweep.dir") == s"runs/sweeps/niid-bench-$split")
      assert(config.getString("model-biases") == "uniform")
      assert(config.getBoolean("partition.balance") == (split == "dir05"))
      val points = new Sweep(experiment).points().asScala.map(_.name())
      assert(points == Seq("algorithm=fedavg", "algorithm=fedprox", "algorithm=fednova", "algorithm=scaffold"), split)
    }
    // The mu grid replaces the algorithms axis rather than crossing it.
    val mu = new Sweep(Experiment.load("../conf/niid-bench-fedprox-mu.conf"))
    assert(mu.points().asScala.map(_.name()) == Seq("mu=0.001", "mu=0.01", "mu=0.1", "mu=1"))
    assert(mu.experimentOf(mu.points().get(0)).config().getString("train.algorithm") == "fedprox")
  }
}
