package fedspark.jobs

import java.io.File
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/** The real data set every machine has (Debian's dataset-fashion-mnist), through the whole pipeline. */
class FashionMnistSuite extends AnyFunSuite {

  private val source = "/usr/share/datasets/fashion-mnist"

  test("Fashion-MNIST: prepared to 60,000 + 10,000 examples, partitioned IID, FedAvg learns it in two rounds") {
    assert(new File(source, "train-images-idx3-ubyte.gz").isFile, s"install Debian's dataset-fashion-mnist ($source)")
    val scratch = Files.createTempDirectory("fedspark-fmnist-")
    try {
      val runDir = s"$scratch/run"
      val code = FedSpark.commandLine().execute("train", "../conf/quickstart.conf",
        "--set", s"""data.prepared="$scratch/prepared"""", "--set", "train.rounds=2",
        "--set", "spark.master=\"local[2]\"", "--run-dir", runDir)
      assert(code == 0)
      val info = Files.readString(Paths.get(s"$scratch/prepared/train/_dataset.conf"))
      assert(info.contains("60000") && info.contains("784") && info.contains("10"), info)
      assert(Files.readString(Paths.get(s"$scratch/prepared/test/_dataset.conf")).contains("10000"))
      val index = fedspark.data.ClientIndex.read(new org.apache.hadoop.fs.Path(s"$scratch/prepared/partitions/iid-k100-seed0"),
        new org.apache.hadoop.conf.Configuration())
      assert(index.clients == 100 && index.size.forall(_ == 600L))
      val rows = Files.readAllLines(Paths.get(runDir, "metrics.csv")).asScala.drop(1).map(_.split(","))
      assert(rows.map(_(0)) == Seq("1", "2") && rows.forall(_(2) == "6000"))
      assert(rows.last(5).toDouble > 0.70, rows.last.mkString(","))
    } finally TestData.deleteRecursively(scratch)
  }
}
