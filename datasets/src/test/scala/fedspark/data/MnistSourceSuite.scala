package fedspark.data

import java.io.File
import java.nio.file.Files

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.{LocalSpark, TestData}

class MnistSourceSuite extends AnyFunSuite with LocalSpark {

  private val hadoop = new Configuration()

  private def write(name: String, bytes: Array[Byte]): Path = {
    val file = new File(fresh(name))
    Files.write(file.toPath, bytes)
    new Path(file.getPath)
  }

  private def badInput(f: => Any): String = intercept[BadInputException](f).getMessage

  test("reads gzipped and plain IDX files alike, pixels scaled to [0, 1]") {
    val (pixels, labels) = TestData.images(5, 4, 3, 7L)
    val plainImages = write("images", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(5, 4, 4), pixels))
    val gzLabels = write("labels.gz", TestData.gzip(TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(5), labels)))
    val rows = MnistSource.read(plainImages, gzLabels, hadoop)
    assert(rows.size == 5)
    assert(rows.get(2).getInt(0) == labels(2))
    val features = rows.get(2).get(1).asInstanceOf[Array[Float]]
    assert(features.length == 16)
    assert(features(3) == (pixels(2 * 16 + 3) & 0xFF) / 255.0f)
    assert(features.forall(v => v >= 0f && v <= 1f))
  }

  test("a wrong magic number is named with the file") {
    val labels = write("labels", TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(2), Array[Byte](1, 2)))
    val message = badInput(IdxFile.read(labels, IdxFile.IMAGES_MAGIC, hadoop))
    assert(message.contains("wrong magic number 0x00000801") && message.contains(labels.toString))
  }

  test("a truncated file says how many values the header promised") {
    val images = write("images", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(3, 4, 4), new Array[Byte](40)))
    val message = badInput(IdxFile.read(images, IdxFile.IMAGES_MAGIC, hadoop))
    assert(message.contains("truncated") && message.contains("48") && message.contains("40"))
    val gzipCut = TestData.gzip(TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(100), new Array[Byte](100)))
    val cut = write("cut.gz", gzipCut.take(gzipCut.length - 12))
    assert(badInput(IdxFile.read(cut, IdxFile.LABELS_MAGIC, hadoop)).contains("truncated"))
    val headerOnly = write("short", Array[Byte](0, 0, 8))
    assert(badInput(IdxFile.read(headerOnly, IdxFile.LABELS_MAGIC, hadoop)).contains("truncated"))
    // the magic number of a 3-dimensional file, then one dimension of the three
    val cutHeader = write("cut-header", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(5), Array[Byte]()))
    assert(badInput(IdxFile.read(cutHeader, IdxFile.IMAGES_MAGIC, hadoop)) == s"$cutHeader: truncated IDX header (8 bytes)")
    val longer = write("longer", TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(2), Array[Byte](1, 2, 3)))
    assert(badInput(IdxFile.read(longer, IdxFile.LABELS_MAGIC, hadoop)) == s"$longer: 1 bytes after the 2 values the header promises")
  }

  test("an IDX file that holds no examples is named, not a stack trace") {
    val empty = write("empty-images", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(0, 4, 4), new Array[Byte](0)))
    val message = badInput(IdxFile.read(empty, IdxFile.IMAGES_MAGIC, hadoop))
    assert(message.contains(empty.toString) && message.contains("holds no examples"), message)
  }

  test("an image/label count mismatch names both files and counts") {
    val (pixels, labels) = TestData.images(4, 2, 2, 1L)
    val images = write("images", TestData.idxBytes(IdxFile.IMAGES_MAGIC, Seq(4, 2, 2), pixels))
    val fewer = write("labels", TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(3), labels.take(3)))
    val message = badInput(MnistSource.read(images, fewer, hadoop))
    assert(message.contains("count mismatch") && message.contains("4 images") && message.contains("3 labels"))
  }

  test("a missing file is named") {
    val dir = new File(fresh("empty"))
    dir.mkdirs()
    val message = badInput(MnistSource.prepare(spark, new Path(dir.getPath), new Path(fresh("out"))))
    assert(message.contains("missing file") && message.contains("train-images-idx3-ubyte"))
  }

  test("prepare writes the canonical tables and their shape") {
    val dir = TestData.writeIdxFolder(new File(fresh("idx")), train = 60, test = 20)
    val out = fresh("prepared")
    MnistSource.prepare(spark, new Path(dir.getPath), new Path(out))
    val train = spark.read.parquet(out + "/train")
    assert(train.schema("label").dataType.simpleString == "int")
    assert(train.schema("features").dataType.simpleString == "array<float>")
    assert(train.count() == 60 && spark.read.parquet(out + "/test").count() == 20)
    // 8 x 8 grey images: one channel, recorded so that image models need no guess
    val shape = java.util.List.of[Integer](1, 8, 8)
    assert(DatasetInfo.read(new Path(out, "train"), hadoop) == new DatasetInfo(60, 64, 4, shape))
    assert(DatasetInfo.read(new Path(out, "test"), hadoop) == new DatasetInfo(20, 64, 4, shape))
  }

  test("a test label the training set never had is refused before anything is written") {
    val dir = TestData.writeIdxFolder(new File(fresh("idx")), train = 30, test = 10, classes = 3)
    Files.write(new File(dir, "t10k-labels-idx1-ubyte.gz").toPath,
      TestData.gzip(TestData.idxBytes(IdxFile.LABELS_MAGIC, Seq(10), Array.fill[Byte](10)(3)))) // the training labels are 0..2
    val out = fresh("prepared")
    val message = badInput(MnistSource.prepare(spark, new Path(dir.getPath), new Path(out)))
    assert(message.contains("label 3 of item 0 is out of range [0, 3)"), message)
    assert(!new File(out).exists())
  }

  test("images of 3 rows by 5 columns: the shape recorded is [1, 3, 5], rows first") {
    val dir = new File(fresh("idx-3x5"))
    dir.mkdirs()
    def put(name: String, magic: Int, dimensions: Seq[Int], values: Array[Byte]) =
      Files.write(new File(dir, name).toPath, TestData.gzip(TestData.idxBytes(magic, dimensions, values)))
    put("train-images-idx3-ubyte.gz", IdxFile.IMAGES_MAGIC, Seq(4, 3, 5), Array.tabulate[Byte](60)(_.toByte))
    put("train-labels-idx1-ubyte.gz", IdxFile.LABELS_MAGIC, Seq(4), Array[Byte](0, 1, 0, 1))
    put("t10k-images-idx3-ubyte.gz", IdxFile.IMAGES_MAGIC, Seq(2, 3, 5), Array.tabulate[Byte](30)(_.toByte))
    put("t10k-labels-idx1-ubyte.gz", IdxFile.LABELS_MAGIC, Seq(2), Array[Byte](1, 0))
    val out = fresh("prepared")
    MnistSource.prepare(spark, new Path(dir.getPath), new Path(out))
    assert(DatasetInfo.read(new Path(out, "train"), hadoop) == new DatasetInfo(4, 15, 2, java.util.List.of[Integer](1, 3, 5)))
  }
}
