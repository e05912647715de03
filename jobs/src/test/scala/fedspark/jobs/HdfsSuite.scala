package fedspark.jobs

import java.io.File
import java.nio.file.Files

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.hadoop.hdfs.MiniDFSCluster
import org.deeplearning4j.util.ModelSerializer
import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.{ClientIndex, HadoopFiles}
import fedspark.models.FlatParameters
import fedspark.testing.TestData

/** Data, partitions, run folder and checkpoints on a real HDFS (Hadoop's MiniDFSCluster on 127.0.0.1). */
class HdfsSuite extends AnyFunSuite with BeforeAndAfterAll {

  private val scratch = Files.createTempDirectory("fedspark-hdfs-")
  private val idx = TestData.writeIdxFolder(scratch.resolve("idx").toFile, train = 240, test = 80)
  private lazy val hdfs: MiniDFSCluster = {
    val conf = new Configuration()
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, scratch.resolve("dfs").toString)
    conf.set("dfs.namenode.rpc-address", "127.0.0.1:0")
    conf.set("dfs.datanode.address", "127.0.0.1:0")
    conf.set("dfs.datanode.http.address", "127.0.0.1:0")
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0")
    conf.set("dfs.namenode.http-address", "127.0.0.1:0")
    new MiniDFSCluster.Builder(conf).numDataNodes(1).build()
  }

  override def afterAll(): Unit =
    try hdfs.shutdown(true)
    finally TestData.deleteRecursively(scratch)

  private def experiment(name: String, root: String): File = {
    val file = scratch.resolve(name + ".conf").toFile
    Files.writeString(file.toPath,
      s"""fedspark {
         |  name = $name
         |  model = mcmahan-2nn
         |  data { source { format = idx, path = "$idx" }, prepared = "$root/prepared" }
         |  output.runs = "$root/runs"
         |  spark.master = "local[2]"
         |  partition { scheme = shards, shards-per-client = 2, clients = 6, seed = 0 }
         |  train { rounds = 4, C = 0.5, E = 2, B = 10, lr = 0.1, seed = 3, checkpoint-every = 2 }
         |}""".stripMargin)
    file
  }

  private def parameters(runDir: String): Array[Float] = {
    val file = new Path(runDir, "model.zip")
    val in = file.getFileSystem(new Configuration()).open(file)
    try FlatParameters.of(ModelSerializer.restoreMultiLayerNetwork(in)) finally in.close()
  }

  test("prepare, partition, train, stop and resume with every path on HDFS; the same model as on the local disk") {
    val dfs = hdfs.getFileSystem.getUri.toString // hdfs://127.0.0.1:<port>
    val conf = experiment("on-hdfs", s"$dfs/fedspark").getPath
    val runDir = s"$dfs/fedspark/runs/stopped"
    val cli = FedSpark.commandLine()
    assert(cli.execute("train", conf, "--run-dir", runDir, "--set", "train.stop-after-round=2") == 2)
    assert(cli.execute("resume", runDir) == 0)

    val hadoop = new Configuration()
    for (file <- Seq("config.conf", "metrics.csv", "checkpoint.bin", "model.zip", "audit.csv", "audit.conf")) {
      assert(HadoopFiles.exists(new Path(runDir, file), hadoop), s"$file on HDFS")
    }
    assert(ClientIndex.read(new Path(s"$dfs/fedspark/prepared/partitions/shards-k6-s2-seed0"), hadoop).size.count(_ > 0) == 6)
    assert(HadoopFiles.readString(new Path(runDir, "metrics.csv"), hadoop).trim.split("\n").length == 5)
    assert(HadoopFiles.readString(new Path(runDir, "audit.conf"), hadoop).contains("raw-data-bytes-between-executors = 0"))

    val local = s"$scratch/local/runs/whole"
    assert(cli.execute("train", experiment("on-disk", s"$scratch/local").getPath, "--run-dir", local) == 0)
    assert(parameters(runDir).sameElements(parameters(local)))
  }

  test("a model file named without a scheme is read from the session's default file system (spark.hadoop.fs.defaultFS)") {
    val dfs = hdfs.getFileSystem.getUri.toString
    val hadoop = new Configuration()
    HadoopFiles.writeString(new Path(s"$dfs/models/two-layers.conf"), Files.readString(new File("../conf/models/mcmahan-2nn.conf").toPath), hadoop)
    val file = scratch.resolve("model-on-hdfs.conf").toFile
    Files.writeString(file.toPath,
      s"""include "${experiment("model-on-hdfs-base", s"$dfs/model-file").getPath}"
         |fedspark {
         |  model = "/models/two-layers.conf"
         |  data.source.path = "file://$idx"
         |  spark.conf { "spark.hadoop.fs.defaultFS" = "$dfs" }
         |  train.rounds = 1
         |}""".stripMargin)
    // with a configuration of its own (fs.defaultFS file:///), the run stops with "model: no such file /models/two-layers.conf"
    assert(FedSpark.commandLine().execute("train", file.getPath, "--run-dir", s"$dfs/model-file/runs/one") == 0)
    assert(HadoopFiles.readString(new Path(s"$dfs/model-file/runs/one", "metrics.csv"), hadoop).trim.split("\n").length == 2)
  }
}
