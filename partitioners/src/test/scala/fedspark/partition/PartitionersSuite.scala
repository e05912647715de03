package fedspark.partition

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.functions.{col, countDistinct, xxhash64}
import org.scalatest.funsuite.AnyFunSuite

import com.typesafe.config.ConfigFactory

import scala.collection.JavaConverters._

import fedspark.data.{ClientIndex, ClientLayout, DatasetInfo, MnistSource}
import fedspark.testing.{LocalSpark, TestData}

class PartitionersSuite extends AnyFunSuite with LocalSpark {

  private lazy val table = TestData.table(spark, 600, 4, 10, 3L).cache()

  private def sizes(p: Partitioner): Map[Int, Long] =
    p.assign(table).groupBy("client").count().collect().map(r => r.getInt(0) -> r.getLong(1)).toMap

  test("IID gives K clients of equal size and every example to exactly one client") {
    val assigned = new IidPartitioner(12, 5L).assign(table)
    val counts = assigned.groupBy("client").count().collect().map(_.getLong(1))
    assert(counts.length == 12 && counts.forall(_ == 50L))
    // the multiset of examples is unchanged: nothing lost, nothing duplicated
    val before = table.collect().map(r => (r.getInt(0), r.getSeq[Float](1))).toSeq.sortBy(_.toString)
    val after = assigned.collect().map(r => (r.getInt(0), r.getSeq[Float](1))).toSeq.sortBy(_.toString)
    assert(before == after)
  }

  test("the same seed gives the same assignment, another seed another") {
    def assignment(seed: Long) = new IidPartitioner(6, seed).assign(table)
      .collect().map(r => (r.getSeq[Float](1).mkString(","), r.getInt(2))).toMap
    assert(assignment(1L) == assignment(1L))
    assert(assignment(1L) != assignment(2L))
  }

  test("shards give each client s shards of n / (K s) examples, and few labels") {
    val shards = new ShardPartitioner(10, 2, 0, 4L)
    assert(sizes(shards).values.forall(_ == 60L))
    val labelsPerClient = shards.assign(table).groupBy("client").agg(countDistinct(col("label")))
      .collect().map(_.getLong(1))
    // 20 shards of 30 over 10 labels of about 60 each: a shard spans at most 2 labels, a client at most 4
    assert(labelsPerClient.forall(_ <= 4))
    assert(labelsPerClient.sum.toDouble / labelsPerClient.length < 3.0)
  }

  test("impossible settings are refused with the setting named") {
    assert(intercept[IllegalArgumentException](new IidPartitioner(0, 1L)).getMessage.contains("partition.clients"))
    assert(intercept[IllegalArgumentException](new IidPartitioner(601, 1L).assign(table)).getMessage.contains("601"))
    assert(intercept[IllegalArgumentException](new ShardPartitioner(400, 2, 0, 1L).assign(table)).getMessage.contains("800"))
    val unknown = ConfigFactory.parseString("scheme = banana, clients = 3, seed = 0")
    assert(intercept[IllegalArgumentException](Partitioners.fromConfig(unknown)).getMessage.contains("banana"))
  }

  test("the writer lays out files of clients sorted by client, a client index, statistics and info") {
    val source = TestData.writeTable(spark, fresh("table"), 90, 4, 3, 8L)
    val root = fresh("partitioned")
    val info = PartitionWriter.write(spark, new Path(source), new IidPartitioner(9, 0L), new Path(root)).info
    val hadoop = spark.sparkContext.hadoopConfiguration
    assert(info == PartitionInfo.read(new Path(root), hadoop))
    assert(info.dataset() == new DatasetInfo(90, 16, 3))
    assert(PartitionWriter.isComplete(new Path(root), hadoop))
    // files grow with the data (at least two per task slot for small data), not with K; no folder per client
    val files = new java.io.File(root).list().filter(_.endsWith(".parquet"))
    assert(files.length == 4 && !new java.io.File(root).list().exists(_.startsWith("client=")), files.mkString(" "))
    val index = ClientIndex.read(new Path(root), hadoop)
    assert(index.clients == 9 && index.size.forall(_ == 10L) && index.files.length == 4)
    // each file holds a contiguous range of clients, in order, each client one run of rows
    val byFile = index.clientsByFile().filter(_.nonEmpty).sortBy(_.head)
    assert(byFile.flatten.toSeq == (0 until 9) && byFile.forall(c => c.toSeq == (c.head to c.last)))
    for (clients <- byFile) {
      assert(clients.map(index.firstRow()(_)).toSeq == clients.indices.map(_ * 10L))
    }
    val shard = ClientLayout.read(new Path(root), 4, 16, 3, hadoop)
    assert(shard.size() == 10 && shard.features().length == 160)
    val statistics = spark.read.parquet(root + "/_clients")
    assert(statistics.count() == 9 && statistics.groupBy().sum("n").first().getLong(0) == 90L)
    assert(spark.read.parquet(root + "/_summary").first().getAs[Long]("median_n") == 10L)
    assert(new java.io.File(root, "_label_heatmap.png").length() > 1000)
    assert(new java.io.File(root, "_client_sizes.png").length() > 1000)
    assert(ClientLayout.read(new Path(root), 42, 16, 3, hadoop).size() == 0)
  }

  test("the statistics tables hold each client's labels, entropy and distance, and the summary, in their own columns") {
    val source = TestData.writeTable(spark, fresh("table"), 300, 2, 4, 9L)
    val root = fresh("partitioned")
    PartitionWriter.write(spark, new Path(source), new QuantityPartitioner(6, 0.5, 1, 100, 2L), new Path(root))
    val hadoop = spark.sparkContext.hadoopConfiguration
    // the expected figures from the clients' own rows, read back
    val counts = Array.tabulate(6, 4)((k, c) => ClientLayout.read(new Path(root), k, 4, 4, hadoop).labels().count(_ == c).toLong)
    val expected = new fedspark.partition.stats.PartitionStatistics(counts)
    val rows = spark.read.parquet(root + "/_clients").collect().sortBy(_.getAs[Int]("client"))
    assert(rows.map(_.getAs[Int]("client")).toSeq == (0 until 6))
    for (r <- rows; k = r.getAs[Int]("client")) {
      assert(r.getAs[Long]("n") == counts(k).sum && r.getAs[scala.collection.Seq[Long]]("labels").toList == counts(k).toList, s"client $k")
      assert(r.getAs[Double]("entropy") == expected.entropy(k) && r.getAs[Double]("distance") == expected.distance(k), s"client $k")
    }
    val summary = spark.read.parquet(root + "/_summary").first()
    val e = expected.summary()
    assert(e.minSize < e.medianSize && e.medianSize < e.maxSize, e.line()) // sizes apart, so a swapped column shows
    assert(Seq("clients", "examples", "empty_clients", "min_n", "median_n", "max_n").map(c => summary.getAs[Any](c).toString.toLong)
      == Seq(e.clients.toLong, e.examples, e.emptyClients.toLong, e.minSize, e.medianSize, e.maxSize))
    assert(summary.getAs[Double]("mean_distance") == e.meanDistance && summary.getAs[Double]("mean_entropy") == e.meanEntropy)
  }

  test("every partitioner on Fashion-MNIST: each client's shard holds exactly its assigned examples, bit for bit, in a content order") {
    val fmnist = new Path("/usr/share/datasets/fashion-mnist")
    assert(new java.io.File(fmnist.toString, "train-images-idx3-ubyte.gz").isFile, "install Debian's dataset-fashion-mnist")
    val hadoop = spark.sparkContext.hadoopConfiguration
    val prepared = fresh("fmnist")
    MnistSource.prepare(spark, fmnist, 6000, new Path(prepared))
    val train = new Path(prepared, "train")
    val schemes = Seq[Partitioner](new IidPartitioner(20, 1L), new ShardPartitioner(20, 2, 0, 1L),
      new DirichletPartitioner(20, 0.5, 0, 10, 100, false, 1L), new DirichletPartitioner(20, 0.5, 0, 10, 100, true, 1L),
      new DirichletPartitioner(20, 0.5, 0.5, 10, 100, false, 1L),
      new LabelsPerClientPartitioner(20, 2, 1L), new QuantityPartitioner(20, 0.5, 10, 100, 1L), new FeatureNoisePartitioner(20, 0.1, 1L))
    def bits(label: Int, features: Array[Float]) = (label, features.map(java.lang.Float.floatToRawIntBits).toSeq)
    for (scheme <- schemes) {
      val root = new Path(fresh(scheme.id))
      PartitionWriter.write(spark, train, scheme, root)
      // the layout's order within a client: ascending hash of the example's label and encoded features
      val assigned = scheme.assign(spark.read.parquet(train.toString))
        .withColumn("order", xxhash64(col("label"), ClientLayout.encodeFeatures(col("features"))))
        .orderBy("client", "order").collect()
        .groupBy(_.getAs[Int]("client")).map { case (k, rows) => k -> rows.map(r => bits(r.getInt(0), r.getSeq[Float](1).toArray)).toSeq }
      val index = ClientIndex.read(root, hadoop)
      for (k <- 0 until 20) {
        val shard = ClientLayout.read(root, index, k, 784, 10, hadoop)
        val written = (0 until shard.size).map(i => bits(shard.labels()(i), shard.features.slice(i * 784, (i + 1) * 784)))
        assert(written == assigned.getOrElse(k, Seq()), s"${scheme.id}: client $k")
      }
      // a preload reads a file's clients at once: the same shards as client by client
      for ((clients, f) <- index.clientsByFile().zipWithIndex if clients.nonEmpty) {
        val together = ClientLayout.read(new Path(root, index.files()(f)), clients, clients.map(index.firstRow()(_)), clients.map(index.size()(_)), 784, 10, hadoop)
        for ((shard, k) <- together.asScala.zip(clients)) {
          val alone = ClientLayout.read(root, index, k, 784, 10, hadoop)
          assert(shard.client == k && shard.labels.sameElements(alone.labels) && shard.features.sameElements(alone.features), s"${scheme.id}: client $k")
        }
      }
    }
  }

  test("client files hold each example's features as one binary value, read back bit for bit") {
    import org.apache.spark.sql.Row
    import org.apache.spark.sql.types.BinaryType
    import fedspark.data.CanonicalTable
    val hadoop = spark.sparkContext.hadoopConfiguration
    // Features no pixel table has: negative, -0.0, subnormal, large.
    val random = new scala.util.Random(4)
    val rows = (0 until 40).map(i => Row(i % 3, Array.fill(5)(random.nextInt(4) match {
      case 0 => -0.0f
      case 1 => java.lang.Float.MIN_VALUE * (1 + random.nextInt(9))
      case _ => (random.nextGaussian() * 1e6).toFloat
    })))
    val source = fresh("odd-table")
    spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), CanonicalTable.SCHEMA).write.parquet(source)
    new DatasetInfo(40, 5, 3).write(new Path(source), hadoop)
    val root = fresh("binary")
    PartitionWriter.write(spark, new Path(source), new IidPartitioner(4, 1L), new Path(root))
    assert(spark.read.parquet(root).schema(CanonicalTable.FEATURES).dataType == BinaryType)
    def examples(shard: fedspark.data.ClientShard) = (0 until shard.size()).map(i =>
      (shard.labels()(i), shard.features().slice(i * 5, i * 5 + 5).map(java.lang.Float.floatToRawIntBits).toSeq)).sortBy(_.toString)
    val written = (0 until 4).flatMap(k => examples(ClientLayout.read(new Path(root), k, 5, 3, hadoop))).sortBy(_.toString)
    val original = rows.map(r => (r.getInt(0), r.getAs[Array[Float]](1).map(java.lang.Float.floatToRawIntBits).toSeq)).sortBy(_.toString)
    assert(written == original)
  }

  test("damaged client files are named with the row: a binary value of the wrong length, a non-finite feature, an index that disagrees") {
    import org.apache.spark.sql.Row
    import org.apache.spark.sql.types.{BinaryType, DataTypes, StructType}
    import fedspark.data.{BadInputException, CanonicalTable}
    val hadoop = spark.sparkContext.hadoopConfiguration
    val schema = new StructType().add(CanonicalTable.CLIENT, DataTypes.IntegerType).add(CanonicalTable.LABEL, DataTypes.IntegerType)
      .add(CanonicalTable.FEATURES, BinaryType)
    def floats(values: Float*) = {
      val bytes = java.nio.ByteBuffer.allocate(4 * values.size).order(java.nio.ByteOrder.LITTLE_ENDIAN)
      values.foreach(bytes.putFloat)
      bytes.array()
    }
    def layout(rows: Seq[Row], index: ClientIndex => ClientIndex = identity): String = {
      val root = fresh("damaged")
      spark.createDataFrame(spark.sparkContext.parallelize(rows, 1), schema).write.parquet(root)
      val files = new java.io.File(root).list().filter(_.endsWith(".parquet")).sorted
      val n = rows.size.toLong
      TestData.writeIndex(spark, root, index(new ClientIndex(files, Array(0), Array(0L), Array(n))))
      root
    }
    def error(root: String) = intercept[BadInputException](ClientLayout.read(new Path(root), 0, 2, 3, hadoop)).getMessage
    val short = error(layout(Seq(Row(0, 1, floats(0.5f, 0.5f)), Row(0, 1, Array[Byte](1, 2, 3)))))
    assert(short.contains("row 1: 3 bytes of features, expected 8"), short)
    val nan = error(layout(Seq(Row(0, 1, floats(0.5f, 0.5f)), Row(0, 2, floats(0.1f, Float.NaN)))))
    assert(nan.contains("row 1: feature 1 is NaN"), nan)
    val infinite = error(layout(Seq(Row(0, 1, floats(Float.PositiveInfinity, 0.5f)))))
    assert(infinite.contains("row 0: feature 0 is Infinity"), infinite)
    val label = error(layout(Seq(Row(0, 1, floats(0.5f, 0.5f)), Row(0, 3, floats(0.5f, 0.5f)))))
    assert(label.contains("row 1: label 3 out of range [0, 3)"), label)
    val mismatch = error(layout(Seq(Row(0, 1, floats(0.5f, 0.5f)), Row(1, 1, floats(0.5f, 0.5f)))))
    assert(mismatch.contains("row 1 holds client 1 where the client index (_clients) puts client 0"), mismatch)
    val beyond = error(layout(Seq(Row(0, 1, floats(0.5f, 0.5f))), i => new ClientIndex(i.files, i.file, Array(0L), Array(5L))))
    assert(beyond.contains("holds 1 rows, the client index asks for rows 0 to 4"), beyond)
    // a preload's read of a file's clients at once, each into its own shard: rows named by their place in the file
    def file(root: String) = new Path(root, new java.io.File(root).list().filter(_.endsWith(".parquet")).head)
    val threeRows = Seq(Row(0, 1, floats(0.5f, 0.5f)), Row(0, 1, floats(0.5f, 0.5f)), Row(1, 1, floats(0.5f, 0.5f)))
    val overlap = intercept[BadInputException](ClientLayout.read(file(layout(threeRows)), Array(0, 1), Array(0L, 1L), Array(2L, 2L), 2, 3, hadoop))
    assert(overlap.getMessage.contains("puts row 1 in two clients"), overlap.getMessage)
    val secondNan = intercept[BadInputException](ClientLayout.read(file(layout(threeRows.take(2) :+ Row(1, 1, floats(0.5f, Float.NaN)))),
      Array(0, 1), Array(0L, 2L), Array(2L, 1L), 2, 3, hadoop))
    assert(secondNan.getMessage.contains("row 2: feature 1 is NaN"), secondNan.getMessage)
    val alone = intercept[BadInputException](ClientLayout.read(file(layout(threeRows.take(2) :+ Row(1, 1, floats(0.5f, Float.NaN)))),
      Array(1), Array(2L), Array(1L), 2, 3, hadoop)) // the read starts at row 2: rows are still named by their place in the file
    assert(alone.getMessage.contains("row 2: feature 1 is NaN"), alone.getMessage)
  }

  test("a client file of several row groups: clients read together from past its first row, one left out between them, and errors naming file rows") {
    import org.apache.spark.sql.Row
    import org.apache.spark.sql.types.{BinaryType, DataTypes, StructType}
    import fedspark.data.{BadInputException, CanonicalTable}
    val hadoop = spark.sparkContext.hadoopConfiguration
    val schema = new StructType().add(CanonicalTable.CLIENT, DataTypes.IntegerType).add(CanonicalTable.LABEL, DataTypes.IntegerType)
      .add(CanonicalTable.FEATURES, BinaryType)
    val d = 64
    // four clients of five rows; row r's features r * 1000 + j, its label r % 3
    def features(r: Int, nanAt: Int): Array[Byte] = {
      val bytes = java.nio.ByteBuffer.allocate(4 * d).order(java.nio.ByteOrder.LITTLE_ENDIAN)
      (0 until d).foreach(j => bytes.putFloat(if (r == nanAt && j == 7) Float.NaN else r * 1000f + j))
      bytes.array()
    }
    def clientFile(nanAt: Int = -1): Path = {
      val root = fresh("row-groups")
      spark.createDataFrame(spark.sparkContext.parallelize((0 until 20).map(r => Row(r / 5, r % 3, features(r, nanAt))), 1), schema)
        .write.option("parquet.block.size", 1024).option("parquet.block.size.row.check.min", 1).option("parquet.block.size.row.check.max", 2)
        .option("parquet.page.size", 512).option("parquet.page.size.row.check.min", 1).parquet(root)
      new Path(root, new java.io.File(root).list().filter(_.endsWith(".parquet")).head)
    }
    val file = clientFile()
    val reader = org.apache.parquet.hadoop.ParquetFileReader.open(org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(file, hadoop))
    val rowGroups = try reader.getRowGroups.size finally reader.close()
    assert(rowGroups >= 4, s"$rowGroups row groups: the test wants clients that span row groups")
    def expected(k: Int) = (5 * k until 5 * k + 5).map(r => (r % 3, (0 until d).map(j => r * 1000f + j)))
    def rows(shard: fedspark.data.ClientShard) = (0 until shard.size).map(i => (shard.labels()(i), shard.features.slice(i * d, (i + 1) * d).toSeq))
    def read(f: Path, clients: Int*)(firstRows: Long*)(sizes: Long*) =
      ClientLayout.read(f, clients.toArray, firstRows.toArray, sizes.toArray, d, 3, hadoop).asScala
    for (shard <- read(file, 1, 3)(5, 15)(5, 5)) { // client 2's rows between them are not kept
      assert(rows(shard) == expected(shard.client), s"client ${shard.client}")
    }
    for ((shard, k) <- read(file, 2, 1)(10, 5)(5, 5).zip(Seq(2, 1))) {
      assert(shard.client == k && rows(shard) == expected(k), s"client $k")
    }
    def error(body: => Any) = intercept[BadInputException](body).getMessage
    val overlap = error(read(file, 1, 2)(5, 8)(5, 5))
    assert(overlap.contains("puts row 8 in two clients"), overlap)
    val mismatch = error(read(file, 1, 2)(5, 9)(4, 5))
    assert(mismatch.contains("row 9 holds client 1 where the client index (_clients) puts client 2"), mismatch)
    val nan = error(read(clientFile(nanAt = 13), 1, 2)(5, 10)(5, 5))
    assert(nan.contains("row 13: feature 7 is NaN"), nan)
  }

  test("the server's test set: a canonical table of several files read whole, in file name order, bit for bit") {
    import org.apache.spark.sql.Row
    import fedspark.data.CanonicalTable
    val hadoop = spark.sparkContext.hadoopConfiguration
    val random = new scala.util.Random(6)
    def table(n: Int) = (0 until n).map(_ => Row(random.nextInt(4), Array.fill(3)(random.nextGaussian().toFloat).toSeq))
    val (first, second) = (table(7), table(5))
    val dir = new java.io.File(fresh("test-table"))
    dir.mkdirs()
    // written second, named first: the name decides the order
    for ((rows, name) <- Seq(second -> "part-00000.parquet", first -> "part-00001.parquet")) {
      val one = fresh("one-file")
      spark.createDataFrame(spark.sparkContext.parallelize(rows, 1), CanonicalTable.SCHEMA).write.parquet(one)
      val part = new java.io.File(one).listFiles().filter(_.getName.endsWith(".parquet")).head
      java.nio.file.Files.copy(part.toPath, new java.io.File(dir, name).toPath)
    }
    def bits(rows: Seq[Row]) = rows.map(r => (r.getInt(0), r.getSeq[Float](1).map(java.lang.Float.floatToRawIntBits)))
    def read(d: java.io.File) = {
      val shard = ClientLayout.readTable(new Path(d.toString), 3, 4, hadoop)
      (0 until shard.size).map(i => (shard.labels()(i), shard.features.slice(i * 3, i * 3 + 3).toSeq.map(java.lang.Float.floatToRawIntBits)))
    }
    assert(read(dir) == bits(second ++ first))
    new java.io.File(dir, "part-00001.parquet").delete()
    assert(read(dir) == bits(second), "a table of one file")
  }

  test("a partitioning in the layout before the client index (a folder per client) is refused with what to do") {
    import fedspark.data.BadInputException
    val root = fresh("old-layout")
    val source = TestData.writeTable(spark, fresh("table"), 30, 4, 3, 8L)
    new IidPartitioner(3, 0L).assign(spark.read.parquet(source)).write.partitionBy("client").parquet(root)
    import spark.implicits._
    Seq((0, 10L), (1, 10L), (2, 10L)).toDF("client", "n").write.parquet(root + "/_clients")
    val error = intercept[BadInputException](ClientIndex.read(new Path(root), spark.sparkContext.hadoopConfiguration)).getMessage
    assert(error.contains("partitioned by an earlier fedspark") && error.contains("remove it and partition again"), error)
  }

  test("a local test fraction keeps round(f n_k) of each client's examples apart, seeded, and trains on the rest") {
    val source = TestData.writeTable(spark, fresh("table"), 300, 4, 3, 8L)
    val hadoop = spark.sparkContext.hadoopConfiguration
    val scheme = new DirichletPartitioner(7, 0.5, 0, 1, 100, false, 2L)
    val whole = fresh("whole")
    PartitionWriter.write(spark, new Path(source), scheme, new Path(whole))
    def split(seed: Long): (String, PartitionInfo) = {
      val root = fresh("split")
      (root, PartitionWriter.write(spark, new Path(source), scheme, new Path(root), 0.2, seed).info)
    }
    val (root, info) = split(1L)
    def examples(shard: fedspark.data.ClientShard) =
      shard.labels.indices.map(i => (shard.labels()(i), shard.features.slice(i * 16, (i + 1) * 16).toSeq)).sortBy(_.toString)
    var heldOut = 0L
    for (client <- 0 until 7) {
      val all = ClientLayout.read(new Path(whole), client, 16, 3, hadoop)
      val train = ClientLayout.read(new Path(root), client, 16, 3, hadoop)
      val test = ClientLayout.read(new Path(root, PartitionWriter.LOCAL_TEST), client, 16, 3, hadoop)
      assert(test.size == math.round(0.2 * all.size), s"client $client: ${test.size} of ${all.size}")
      assert(examples(all) == (examples(train) ++ examples(test)).sortBy(_.toString), s"client $client: nothing lost, nothing shared")
      heldOut += test.size
    }
    assert(info.localTestExamples == heldOut && info.dataset.examples == 300 - heldOut)
    assert(info == PartitionInfo.read(new Path(root), hadoop))
    assert(spark.read.parquet(root + "/_clients").groupBy().sum("n").first().getLong(0) == 300 - heldOut, "statistics count training examples")
    val (again, _) = split(1L)
    val (other, _) = split(2L)
    def tests(r: String) = (0 until 7).map(k => examples(ClientLayout.read(new Path(r, PartitionWriter.LOCAL_TEST), k, 16, 3, hadoop)))
    assert(tests(again) == tests(root), "the same seed holds out the same examples")
    assert(tests(other) != tests(root), "another seed others")
    assert(intercept[IllegalArgumentException](PartitionWriter.write(spark, new Path(source), scheme, new Path(fresh("x")), 1.0, 1L))
      .getMessage.contains("partition.local-test-fraction"))
  }
}
