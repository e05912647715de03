package fedspark.testing

import java.io.{ByteArrayOutputStream, DataOutputStream, File}
import java.nio.file.{Files, Path}
import java.util.Comparator
import java.util.zip.GZIPOutputStream

import scala.util.Random

import org.apache.spark.sql.{DataFrame, Row, SparkSession}

import fedspark.data.{CanonicalTable, ClientIndex, ClientLayout, DatasetInfo}

/** Small data the tests generate: IDX files and canonical tables whose labels are learnable from the features. */
object TestData {

  /** Bytes of an IDX file: magic, dimensions, values. */
  def idxBytes(magic: Int, dimensions: Seq[Int], values: Array[Byte]): Array[Byte] = {
    val bytes = new ByteArrayOutputStream()
    val out = new DataOutputStream(bytes)
    out.writeInt(magic)
    dimensions.foreach(out.writeInt)
    out.write(values)
    out.close()
    bytes.toByteArray
  }

  def gzip(bytes: Array[Byte]): Array[Byte] = {
    val buffer = new ByteArrayOutputStream()
    val out = new GZIPOutputStream(buffer)
    out.write(bytes)
    out.close()
    buffer.toByteArray
  }

  /** Images of `side` x `side` whose brightest band encodes the label, so a model can learn them. */
  def images(n: Int, side: Int, classes: Int, seed: Long): (Array[Byte], Array[Byte]) = {
    val random = new Random(seed)
    val labels = Array.fill(n)(random.nextInt(classes).toByte)
    val pixels = new Array[Byte](n * side * side)
    for (i <- 0 until n; p <- 0 until side * side) {
      val band = p * classes / (side * side)
      val level = if (band == labels(i)) 150 + random.nextInt(100) else random.nextInt(90)
      pixels(i * side * side + p) = level.toByte
    }
    (pixels, labels)
  }

  /** A folder of MNIST-format files (train and t10k, gzipped) like the Fashion-MNIST package's. */
  def writeIdxFolder(dir: File, train: Int, test: Int, side: Int = 8, classes: Int = 4, seed: Long = 1L): File = {
    dir.mkdirs()
    for ((split, n, s) <- Seq(("train", train, seed), ("t10k", test, seed + 1))) {
      val (pixels, labels) = images(n, side, classes, s)
      Files.write(new File(dir, s"$split-images-idx3-ubyte.gz").toPath, gzip(idxBytes(0x803, Seq(n, side, side), pixels)))
      Files.write(new File(dir, s"$split-labels-idx1-ubyte.gz").toPath, gzip(idxBytes(0x801, Seq(n), labels)))
    }
    dir
  }

  /** A canonical table of `n` generated examples. */
  def table(spark: SparkSession, n: Int, side: Int, classes: Int, seed: Long): DataFrame = {
    val (pixels, labels) = images(n, side, classes, seed)
    val d = side * side
    val rows = (0 until n).map { i =>
      Row(labels(i).toInt, Array.tabulate(d)(j => (pixels(i * d + j) & 0xFF) / 255.0f))
    }
    spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), CanonicalTable.SCHEMA)
  }

  /** Writes a canonical table with its DatasetInfo, as prepare does. */
  def writeTable(spark: SparkSession, path: String, n: Int, side: Int, classes: Int, seed: Long): String = {
    table(spark, n, side, classes, seed).write.parquet(path)
    new DatasetInfo(n, side * side, classes).write(new org.apache.hadoop.fs.Path(path), spark.sparkContext.hadoopConfiguration)
    path
  }

  /**
   * Writes generated clients of the given sizes at `root` in the layout training reads, with the client index (its
   * columns only: partitioning also writes statistics beside them); returns `root`.
   */
  def writeClients(spark: SparkSession, root: String, sizes: Seq[Int], side: Int, classes: Int, seed: Long): String = {
    val clientOf = sizes.zipWithIndex.flatMap { case (size, k) => Seq.fill(size)(k) }.toArray
    val rows = table(spark, sizes.sum, side, classes, seed).rdd.zipWithIndex()
      .map { case (r, i) => Row(r.getInt(0), r.get(1), clientOf(i.toInt)) }
    val assigned = spark.createDataFrame(rows, CanonicalTable.SCHEMA.add(CanonicalTable.CLIENT, "int"))
    val index = ClientLayout.write(assigned, new org.apache.hadoop.fs.Path(root), sizes.size, new DatasetInfo(sizes.sum, side * side, classes)).index
    writeIndex(spark, root, index)
    root
  }

  /** The client index's columns as `_clients` (what ClientIndex.read needs). */
  def writeIndex(spark: SparkSession, root: String, index: ClientIndex): Unit = {
    import spark.implicits._
    (0 until index.clients).map(k => (k, if (index.file()(k) < 0) null else index.files()(index.file()(k)), index.firstRow()(k), index.size()(k)))
      .toDF(ClientIndex.CLIENT_COLUMN, ClientIndex.FILE_COLUMN, ClientIndex.FIRST_ROW_COLUMN, ClientIndex.SIZE_COLUMN)
      .coalesce(1).write.parquet(root + "/" + ClientIndex.TABLE)
  }

  def deleteRecursively(root: Path): Unit =
    if (Files.exists(root)) Files.walk(root).sorted(Comparator.reverseOrder[Path]()).forEach(p => Files.delete(p))
}
