package fedspark.engine.state

import java.nio.file.Files

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.broadcast.Broadcast
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.{BadInputException, SerializableHadoopConf}
import fedspark.engine.ServedClient

/** Client state without Spark: the store's versions in memory and on disk, pruning, its file format, the driver's versions. */
class ClientStateSuite extends AnyFunSuite {

  private val hadoop = new Configuration()
  private def vectors(value: Float): java.util.Map[String, Array[Float]] = Map("c" -> Array(value, -value), "m" -> Array(2 * value)).asJava
  private def values(v: java.util.Map[String, Array[Float]]) = v.asScala.map { case (name, x) => name -> x.toSeq }.toMap
  private def stored(root: String, client: Int) =
    Option(new java.io.File(root, s"client=$client").list()).map(_.toSeq.filter(_.endsWith(".bin")).sorted).getOrElse(Seq())

  test("a version written is read back from memory; a newer version another executor wrote is read from storage, never the older one cached") {
    val root = Files.createTempDirectory("states").toString
    val here = new ClientStateStore(1L << 30)
    val there = new ClientStateStore(1L << 30)
    here.write(root, 0, 1, vectors(1f), 0, hadoop)
    assert(values(here.read(root, 0, 1, hadoop)) == values(vectors(1f)) && here.storageReads() == 0)
    there.write(root, 0, 3, vectors(3f), 0, hadoop) // the client trained on another executor in round 3
    assert(values(here.read(root, 0, 3, hadoop)) == values(vectors(3f)))
    assert(here.storageReads() == 1)
    assert(values(here.read(root, 0, 1, hadoop)) == values(vectors(1f)), "a retried round-2 task reads version 1")
    assert(here.storageReads() == 1, "version 1 is still this executor's in memory")
    // what read returns is a copy: changing it changes neither memory nor a later read
    here.read(root, 0, 1, hadoop).get("c")(0) = 99f
    assert(values(here.read(root, 0, 1, hadoop)) == values(vectors(1f)))
    assert(here.read(root, 5, 0, hadoop).isEmpty, "version 0: no state yet")
    val missing = intercept[BadInputException](here.read(root, 0, 2, hadoop))
    assert(missing.getMessage.contains("client 0's state of round 2 is missing"))
  }

  test("writing version r keeps the stored versions from keepFrom on, and version r itself") {
    val root = Files.createTempDirectory("states").toString
    val store = new ClientStateStore(1L << 30)
    for (round <- 1 to 4) store.write(root, 7, round, vectors(round.toFloat), 0, hadoop)
    assert(stored(root, 7) == Seq("round=1.bin", "round=2.bin", "round=3.bin", "round=4.bin"))
    store.write(root, 7, 5, vectors(5f), 3, hadoop)
    assert(stored(root, 7) == Seq("round=3.bin", "round=4.bin", "round=5.bin"))
    store.write(root, 7, 6, vectors(6f), 6, hadoop)
    assert(stored(root, 7) == Seq("round=6.bin"))
  }

  test("the state file: vectors by name, bit for bit; a wrong magic number, a truncated file or bytes after the last vector are refused") {
    val v = Map("a" -> Array(1.5f, Float.MinPositiveValue, -0f), "b" -> Array[Float]()).asJava
    val bytes = ClientStateStore.encode(v)
    val back = ClientStateStore.decode(bytes, new Path("/s"))
    assert(back.keySet.asScala == Set("a", "b"))
    assert(back.get("a").map(java.lang.Float.floatToRawIntBits).toSeq == v.get("a").map(java.lang.Float.floatToRawIntBits).toSeq)
    def refusal(b: Array[Byte]) = intercept[BadInputException](ClientStateStore.decode(b, new Path("/s"))).getMessage
    assert(refusal(bytes :+ 0.toByte) == "/s: 1 bytes after the last vector")
    assert(refusal(bytes.dropRight(1)) == "/s: truncated client state file")
    assert(refusal(0.toByte +: bytes.tail) == "/s: not a fedspark client state file")
  }

  test("the driver's versions: a client's latest round it trained in, none for a client without examples; a checkpoint's map is what a resume starts from") {
    val versions = new ClientStateVersions("r", null, Map(4 -> 2).map { case (k, v) => Int.box(k) -> Int.box(v) }.asJava)
    def served(client: Int, examples: Long) = new ServedClient(client, examples, "e", "h", 0)
    versions.record(1, java.util.List.of(served(0, 5), served(1, 0)))
    versions.record(3, java.util.List.of(served(0, 5), served(4, 5)))
    assert(versions.checkpoint().asScala.map { case (k, v) => k.toInt -> v.toInt } == Map(0 -> 3, 4 -> 3))
  }

  test("rounds after a checkpoint keep the version it names, so a resume from it reads what that round wrote") {
    val root = Files.createTempDirectory("states").toString
    // what a broadcast gives a task, without Spark
    val conf = new Broadcast[SerializableHadoopConf](0L) {
      override protected def getValue(): SerializableHadoopConf = new SerializableHadoopConf(hadoop)
      override protected def doUnpersist(blocking: Boolean): Unit = ()
      override protected def doDestroy(blocking: Boolean): Unit = ()
    }
    def round(versions: ClientStateVersions, r: Int): Unit = {
      val handle = versions.plan(r, Array(0)).open(0)
      val seen = Option(handle.get("c")).map(_(0)).getOrElse(0f)
      handle.put("c", Array(seen + r)) // each version: the sum of the rounds so far
      handle.commit()
      versions.record(r, java.util.Collections.singletonList(new ServedClient(0, 5, "e", "h", 0)))
    }
    try {
      val versions = new ClientStateVersions(root, conf, java.util.Map.of())
      round(versions, 1)
      val checkpoint = versions.checkpoint()
      for (r <- 2 to 4) round(versions, r)
      assert(stored(root, 0) == Seq("round=1.bin", "round=2.bin", "round=3.bin", "round=4.bin"), "every version from the checkpoint's on kept")
      ClientStateStore.shared().evict(root) // a new driver and executors
      val resumed = new ClientStateVersions(root, conf, checkpoint)
      assert(resumed.plan(2, Array(0)).open(0).get("c").toSeq == Seq(1f))
      versions.checkpoint()
      round(versions, 5)
      assert(stored(root, 0) == Seq("round=4.bin", "round=5.bin"), "a later checkpoint frees the earlier versions")
    } finally {
      ClientStateStore.shared().evict(root)
    }
  }
}
