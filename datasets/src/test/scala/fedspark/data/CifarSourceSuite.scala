package fedspark.data

import java.nio.file.Files

import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.{LocalSpark, TestData}

/** CIFAR-10/100 binary batches against hand-made files whose every byte is known. */
class CifarSourceSuite extends AnyFunSuite with LocalSpark {

  /** A record: label bytes, then pixel j = (seed + j) mod 256 (red plane, green, blue). */
  private def record(labels: Seq[Int], seed: Int): Array[Byte] =
    (labels.map(_.toByte) ++ (0 until 3072).map(j => ((seed + j) % 256).toByte)).toArray

  test("CIFAR-10: one label byte, then 3,072 pixels in channel x height x width order, divided by 255") {
    val rows = CifarSource.parse("b.bin", record(Seq(7), 0) ++ record(Seq(0), 100), CifarSource.Variant.CIFAR10)
    assert(rows.size == 2)
    assert(rows.get(0).getInt(0) == 7 && rows.get(1).getInt(0) == 0)
    val first = rows.get(0).getAs[Array[Float]](1)
    val second = rows.get(1).getAs[Array[Float]](1)
    assert(first.length == 3072)
    assert(first(0) == 0f && first(255) == 1f && first(256) == 0f && first(1024) == 0f) // green plane starts at 1024: (0 + 1024) mod 256
    assert(second(0) == 100 / 255f && second(3071) == ((100 + 3071) % 256) / 255f)
    // planes of 10, 20 and 30: red, green, blue in the file's order
    val planes = (Seq(4.toByte) ++ Seq(10, 20, 30).flatMap(v => Seq.fill(1024)(v.toByte))).toArray
    val rgb = CifarSource.parse("c.bin", planes, CifarSource.Variant.CIFAR10).get(0).getAs[Array[Float]](1)
    assert(Seq(0, 1023, 1024, 2047, 2048, 3071).map(rgb(_)) == Seq(10, 10, 20, 20, 30, 30).map(_ / 255f))
  }

  test("CIFAR-100: a coarse then a fine label byte; fine by default, coarse when asked") {
    val bytes = record(Seq(19, 99), 5)
    assert(CifarSource.parse("train.bin", bytes, CifarSource.Variant.CIFAR100_FINE).get(0).getInt(0) == 99)
    assert(CifarSource.parse("train.bin", bytes, CifarSource.Variant.CIFAR100_COARSE).get(0).getInt(0) == 19)
    assert(CifarSource.parse("train.bin", bytes, CifarSource.Variant.CIFAR100_FINE).get(0).getAs[Array[Float]](1)(0) == 5 / 255f)
  }

  test("bad files are named: a cut record, a label outside the classes, an empty file, a missing file") {
    def error(bytes: Array[Byte], variant: CifarSource.Variant = CifarSource.Variant.CIFAR10) =
      intercept[BadInputException](CifarSource.parse("data_batch_1.bin", bytes, variant)).getMessage
    assert(error(record(Seq(1), 0) ++ Array[Byte](3)) == "data_batch_1.bin: 3074 bytes is not a whole number of 3073-byte records " +
      "(CIFAR-10: 1 label byte and 3x32x32 pixel bytes); record 2 is cut after 1 bytes")
    assert(error(record(Seq(1), 0) ++ record(Seq(10), 0)) == "data_batch_1.bin: record 2 has label 10; CIFAR-10 has 10 classes")
    assert(error(record(Seq(3, 100), 0), CifarSource.Variant.CIFAR100_FINE) == "data_batch_1.bin: record 1 has label 100; CIFAR-100 has 100 classes")
    assert(error(record(Seq(20, 5), 0), CifarSource.Variant.CIFAR100_COARSE) == "data_batch_1.bin: record 1 has label 20; CIFAR-100 (coarse) has 20 classes")
    assert(error(Array[Byte]()).startsWith("data_batch_1.bin: 0 bytes is not a whole number"))
    val folder = Files.createTempDirectory("cifar-missing")
    val missing = intercept[BadInputException](CifarSource.prepare(spark, new Path(folder.toString), CifarSource.Variant.CIFAR10,
      new Path(fresh("out")))).getMessage
    assert(missing.startsWith(s"missing file: file:$folder/data_batch_1.bin") || missing.startsWith(s"missing file: $folder/data_batch_1.bin"), missing)
    TestData.deleteRecursively(folder)
  }

  test("prepare writes train and test with the shape [3, 32, 32] and CIFAR-10's 10 classes, whatever labels the files hold") {
    val folder = Files.createTempDirectory("cifar")
    for (i <- 1 to 5) Files.write(folder.resolve(s"data_batch_$i.bin"), record(Seq(i), i) ++ record(Seq(0), 2 * i))
    Files.write(folder.resolve("test_batch.bin"), record(Seq(2), 9))
    val out = fresh("prepared")
    CifarSource.prepare(spark, new Path(folder.toString), CifarSource.Variant.CIFAR10, new Path(out))
    val hadoop = spark.sparkContext.hadoopConfiguration
    assert(DatasetInfo.read(new Path(out, "train"), hadoop) == new DatasetInfo(10, 3072, 10, java.util.List.of(3, 32, 32)))
    assert(DatasetInfo.read(new Path(out, "test"), hadoop) == new DatasetInfo(1, 3072, 10, java.util.List.of(3, 32, 32)))
    val labels = spark.read.parquet(s"$out/train").collect().map(_.getInt(0)).sorted.toSeq
    assert(labels == Seq(0, 0, 0, 0, 0, 1, 2, 3, 4, 5))
    TestData.deleteRecursively(folder)
  }
}
