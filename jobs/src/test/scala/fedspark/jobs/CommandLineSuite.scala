package fedspark.jobs

import java.io.{File, PrintWriter, StringWriter}
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

import org.deeplearning4j.util.ModelSerializer
import org.scalatest.funsuite.AnyFunSuite

import fedspark.models.FlatParameters
import fedspark.testing.TestData

/** The jobs as a user runs them: an experiment file, the command line, a run folder. */
class CommandLineSuite extends AnyFunSuite with CommandLineFixture {

  private def parameters(runDir: String): Array[Float] =
    FlatParameters.of(ModelSerializer.restoreMultiLayerNetwork(new File(runDir, "model.zip")))

  test("train prepares, partitions and trains, writing config, metrics and model to the run folder") {
    val runDir = s"$scratch/runs/first"
    val (code, errors) = fedspark("train", experiment("first", "").getPath, "--run-dir", runDir)
    assert(code == 0, errors)
    val csv = Files.readAllLines(Paths.get(runDir, "metrics.csv"))
    assert(csv.get(0) == "round,clients,samples,train_loss,test_loss,test_accuracy,seconds,upload_bytes")
    assert(csv.size() == 4 && csv.get(3).startsWith("3,3,120,"))
    assert(new File(runDir, "metrics").list().exists(_.endsWith(".parquet")))
    val config = Files.readString(Paths.get(runDir, "config.conf"))
    assert(config.contains("rounds") && config.contains("algorithm"))
    assert(parameters(runDir).length == 64 * 200 + 200 + 200 * 200 + 200 + 200 * 4 + 4)
    assert(_root_.fedspark.data.ClientIndex.read(new org.apache.hadoop.fs.Path(s"$scratch/prepared/partitions/iid-k6-seed0"),
      new org.apache.hadoop.conf.Configuration()).clients == 6)
  }

  test("an experiment's own Spark plugins run, beside the one that loads ND4J's backend when an executor starts") {
    RecordingPlugin.plugins = null
    val (code, errors) = fedspark("train", experiment("plugins", "train.rounds = 1").getPath, "--run-dir", s"$scratch/runs/plugins",
      "--set", "spark.conf.\"spark.plugins\"=fedspark.jobs.RecordingPlugin")
    assert(code == 0, errors)
    assert(RecordingPlugin.plugins == "fedspark.jobs.RecordingPlugin,fedspark.engine.ExecutorWarmUp")
    RecordingPlugin.plugins = null
    // named by the experiment already: listed once
    assert(fedspark("train", experiment("plugins-named", "train.rounds = 1").getPath, "--run-dir", s"$scratch/runs/plugins-named",
      "--set", "spark.conf.\"spark.plugins\"=\" fedspark.engine.ExecutorWarmUp, fedspark.jobs.RecordingPlugin\"")._1 == 0)
    assert(RecordingPlugin.plugins == "fedspark.engine.ExecutorWarmUp,fedspark.jobs.RecordingPlugin")
    RecordingPlugin.plugins = null
    assert(fedspark("train", experiment("no-plugins", "train.rounds = 1").getPath, "--run-dir", s"$scratch/runs/no-plugins")._1 == 0)
    assert(RecordingPlugin.plugins == null, "a plugin of an earlier run's settings")
  }

  test("the same experiment and seed give the same model; another seed another") {
    val conf = experiment("again", "").getPath
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/a")._1 == 0)
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/b")._1 == 0)
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/c", "--set", "train.seed=5")._1 == 0)
    assert(parameters(s"$scratch/runs/a").sameElements(parameters(s"$scratch/runs/b")))
    assert(!parameters(s"$scratch/runs/a").sameElements(parameters(s"$scratch/runs/c")))
  }

  test("FedSGD and the pathological shard split run from configuration alone") {
    val conf = experiment("fedsgd", "partition { scheme = shards, shards-per-client = 2 }\n train { E = 1, B = inf, algorithm = fedsgd }")
    val (code, errors) = fedspark("train", conf.getPath, "--run-dir", s"$scratch/runs/fedsgd")
    assert(code == 0, errors)
    assert(_root_.fedspark.data.ClientIndex.read(new org.apache.hadoop.fs.Path(s"$scratch/prepared/partitions/shards-k6-s2-seed0"),
      new org.apache.hadoop.conf.Configuration()).size.count(_ > 0) == 6)
    // 3 of 6 clients of 40 examples a round, one full-batch gradient each: every round counts 120 examples once
    val rows = Files.readAllLines(Paths.get(s"$scratch/runs/fedsgd", "metrics.csv")).asScala.tail.map(_.split(","))
    assert(rows.map(r => (r(0), r(1), r(2))) == Seq(("1", "3", "120"), ("2", "3", "120"), ("3", "3", "120")))
    val saved = com.typesafe.config.ConfigFactory.parseFile(new File(s"$scratch/runs/fedsgd", "config.conf"))
    assert(saved.getString("fedspark.train.algorithm") == "fedsgd")
  }

  test("bad settings and files fail with one clear line naming them, before any training") {
    val conf = experiment("bad", "").getPath
    val missing = fedspark("train", s"$scratch/nothing.conf")
    assert(missing._1 == 2 && missing._2.contains("missing configuration file"))
    val fraction = fedspark("train", conf, "--set", "train.C=1.5")
    assert(fraction._1 == 2 && fraction._2.contains("train.C must be in [0, 1]"), fraction._2)
    val target = fedspark("train", conf, "--set", "train.stop-at-accuracy=1.5")
    assert(target._1 == 2 && target._2.contains("train.stop-at-accuracy must be 0 (off) or a test accuracy in (0, 1]"), target._2)
    val model = fedspark("train", conf, "--set", "model=resnet")
    assert(model._1 == 2 && model._2.contains("unknown model 'resnet'"), model._2)
    val fedsgd = fedspark("train", conf, "--set", "train.algorithm=fedsgd")
    assert(fedsgd._1 == 2 && fedsgd._2.contains("E = 1 and B = inf"), fedsgd._2)
    val typo = fedspark("train", conf, "--set", "train.epochs=3")
    assert(typo._1 == 2 && typo._2.contains("unknown setting 'train.epochs'; closest known setting: 'train.E'"), typo._2)
    val inFile = fedspark("train", experiment("bad-key", "train { fedprox { mew = 0.1 } }").getPath)
    assert(inFile._1 == 2 && inFile._2.contains("unknown setting 'train.fedprox.mew'; closest known setting: 'train.fedprox.mu'"), inFile._2)
    val algorithm = fedspark("train", conf, "--set", "train.algorithm=fedprocs")
    assert(algorithm._1 == 2 && algorithm._2.contains("unknown train.algorithm 'fedprocs'"), algorithm._2)
    val source = fedspark("train", conf, "--set", s"""data.source.path="$scratch/nowhere"""", "--set", s"""data.prepared="$scratch/p2"""")
    assert(source._1 == 2 && source._2.contains("missing file"), source._2)
    assert(source._2.linesIterator.size == 1, "one line, no stack trace")
    val verbose = fedspark("train", conf, "--set", "train.C=1.5", "--verbose")
    assert(verbose._1 == 2 && verbose._2.contains("train.C must be in [0, 1]") && verbose._2.contains("\tat fedspark."), "--verbose: the trace")
    assert(!Option(new File(s"$scratch/runs").list()).getOrElse(Array[String]()).exists(_.startsWith("bad-")), "no run folder for a run that never started")
  }

  test("a test table that cannot be read (read beside the clients' preload) stops the run with one line naming it") {
    val conf = experiment("test-table", "train.rounds = 1").getPath
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/test-table-0")._1 == 0) // prepares and partitions
    val copy = scratch.resolve("prepared-bad-test")
    Files.walk(scratch.resolve("prepared")).iterator().asScala.foreach { from =>
      Files.copy(from, copy.resolve(scratch.resolve("prepared").relativize(from).toString))
    }
    val tables = copy.resolve("test").toFile.listFiles().filter(_.getName.endsWith(".parquet"))
    assert(tables.nonEmpty)
    Files.writeString(tables.head.toPath, "not a parquet file")
    // with its checksum file (Hadoop's local file system checks it), then without
    for ((checksum, run) <- Seq(true -> 1, false -> 2)) {
      if (!checksum) Files.delete(tables.head.toPath.resolveSibling("." + tables.head.getName + ".crc"))
      val runDir = s"$scratch/runs/test-table-$run"
      val (code, errors) = fedspark("train", conf, "--set", s"""data.prepared="$copy"""", "--run-dir", runDir)
      assert(code == 2 && errors.contains(tables.head.getName) && errors.linesIterator.size == 1, errors)
      assert(new File(runDir, "config.conf").exists() && !new File(runDir, "metrics.csv").exists(), "stopped before any round")
    }
  }

  test("an existing run folder is never overwritten") {
    val runDir = s"$scratch/runs/kept"
    new File(runDir).mkdirs()
    Files.writeString(Paths.get(runDir, "metrics.csv"), "precious")
    val (code, errors) = fedspark("train", experiment("kept", "").getPath, "--run-dir", runDir)
    assert(code == 2 && errors.contains("already holds a run"), errors)
    assert(Files.readString(Paths.get(runDir, "metrics.csv")) == "precious")
  }

  test("LEAF users become natural clients and train") {
    val leaf = scratch.resolve("leaf").toFile
    val users = (1 to 5).map(u => s"writer$u")
    for ((split, n) <- Seq(("train", 6), ("test", 2))) {
      val dir = new File(leaf, split)
      dir.mkdirs()
      val data = users.zipWithIndex.map { case (u, i) =>
        val x = (0 until n).map(j => s"[${(i + j) % 3 * 0.5}, ${j * 0.1}, 0.2, ${i * 0.2}]").mkString(",")
        val y = (0 until n).map(j => (i + j) % 3).mkString(",")
        "\"" + u + "\": {\"x\": [" + x + "], \"y\": [" + y + "]}"
      }
      val listed = users.map(u => "\"" + u + "\"").mkString(",")
      Files.writeString(new File(dir, "all.json").toPath,
        "{\"users\": [" + listed + "], \"num_samples\": [" + Seq.fill(5)(n).mkString(",") + "], \"user_data\": {" + data.mkString(",") + "}}")
    }
    val conf = experiment("leaf",
      "data { source { format = leaf, path = \"" + leaf + "\" }, prepared = \"" + scratch + "/leaf-prepared\" }\n" +
        "partition { scheme = natural, clients = 0 }")
    val (code, errors) = fedspark("train", conf.getPath, "--run-dir", s"$scratch/runs/leaf")
    assert(code == 0, errors)
    val hadoop = new org.apache.hadoop.conf.Configuration()
    assert(_root_.fedspark.data.ClientIndex.read(new org.apache.hadoop.fs.Path(s"$scratch/leaf-prepared/partitions/natural-user"), hadoop).size.toSeq == Seq.fill(5)(6L))
    // 5 writers, C = 0.5: 3 sampled, 6 examples each
    assert(Files.readAllLines(Paths.get(s"$scratch/runs/leaf", "metrics.csv")).get(1).startsWith("1,3,18,"))
    // natural clients keep local test sets too: round(0.2 x 6) = 1 example each
    assert(fedspark("train", conf.getPath, "--run-dir", s"$scratch/runs/leaf-local", "--set", "partition.local-test-fraction=0.2")._1 == 0)
    assert(Files.readAllLines(Paths.get(s"$scratch/runs/leaf-local", "metrics.csv")).get(1).startsWith("1,3,15,"))
    val tests = _root_.fedspark.data.ClientIndex.read(new org.apache.hadoop.fs.Path(s"$scratch/leaf-prepared/partitions/natural-user-test0.2/_local_test"), hadoop)
    assert(tests.size.toSeq == Seq.fill(5)(1L))
  }

  // Server state (moments, control variates, the adaptive clip, the privacy accountant, local DP's participations) and
  // client state (SCAFFOLD's c_i, top-k's residuals) must carry over a stop.
  private val resumable = Seq(
    "fedavg" -> "algorithm = fedavg",
    "scaffold" -> "algorithm = scaffold",
    "fedadam" -> "algorithm = fedadam",
    "top-k-secure" -> "update { transforms = [top-k, quantize], top-k.fraction = 0.1 }, secure-aggregation { enabled = true, dropout = 0.2 }",
    "dp-central" -> "privacy { mode = central, noise-multiplier = 0.3, adaptive-clip.enabled = true, adaptive-clip.count-noise = 0.5 }",
    "dp-local" -> "privacy { mode = local, noise-multiplier = 0.3, clip = 0.5, sampling = uniform, local-max-rounds = 2 }",
    "robust-krum" -> "algorithm = robust, robust.rule = multi-krum, attack { kind = little-is-enough, fraction = 0.34 }",
    "deadline" -> ("simulation { enabled = true, speed.sigma = 1.5, over-selection = 0.5, dropout = 0.2, deadline = 1.0, " +
      "stragglers = partial }"),
    "fedbuff" -> "algorithm = fedbuff, simulation { enabled = true, speed.sigma = 1.5 }, fedbuff { buffer = 2, concurrency = 3 }")

  for ((label, train) <- resumable) {
    test(s"$label: a run stopped after round 2 and resumed ends with the parameters of an uninterrupted one") {
      val conf = experiment(s"resume-$label", s"train { rounds = 4, $train }").getPath
      assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/whole-$label")._1 == 0)
      val stoppedDir = s"$scratch/runs/stopped-$label"
      val (stopped, stopError) = fedspark("train", conf, "--run-dir", stoppedDir, "--set", "train.stop-after-round=2")
      assert(stopped == 2 && stopError.contains("stopped after round 2"), stopError)
      assert(!new File(s"$stoppedDir/model.zip").exists())
      assert(Files.readAllLines(Paths.get(stoppedDir, "metrics.csv")).size() == 3)
      val (resumed, resumeError) = fedspark("resume", stoppedDir)
      assert(resumed == 0, resumeError)
      assert(parameters(stoppedDir).sameElements(parameters(s"$scratch/runs/whole-$label")))
      assert(withoutSeconds(stoppedDir) == withoutSeconds(s"$scratch/runs/whole-$label"))
      assertAuditTotals(stoppedDir, s"$scratch/runs/whole-$label")
      assert(fedspark("resume", s"$scratch/runs/nothing-here")._2.contains("no run to resume"))
    }
  }

  test("privacy: secure aggregation gives plain FedAvg's parameters through Spark's merges; compression cuts the bytes") {
    val conf = experiment("secure", "train { rounds = 2, aggregation-depth = 2 }").getPath
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/plain")._1 == 0)
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/secure", "--set", "train.secure-aggregation.enabled=true")._1 == 0)
    assert(parameters(s"$scratch/runs/secure").sameElements(parameters(s"$scratch/runs/plain")))
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/top-k", "--set", "train.update.transforms=[top-k]")._1 == 0)
    def bytes(run: String) = Files.readAllLines(Paths.get(run, "metrics.csv")).asScala.tail.map(_.split(",")(7).toDouble)
    val dense = bytes(s"$scratch/runs/plain")
    assert(dense.forall(_ == 3 * 4.0 * parameters(s"$scratch/runs/plain").length))
    assert(bytes(s"$scratch/runs/top-k").zip(dense).forall { case (sparse, full) => sparse < 0.021 * full })
    // the audit counts, client by client, what the metrics count round by round
    for (run <- Seq("plain", "top-k", "secure")) {
      val audit = com.typesafe.config.ConfigFactory.parseFile(new File(s"$scratch/runs/$run", "audit.conf"))
      assert(audit.getLong("update-bytes-encoded") == bytes(s"$scratch/runs/$run").sum.toLong, run)
    }
  }

  test("fedbuff gives the same model in local[1] and local[2]; synchronous simulated rounds without dropouts or deadline are FedAvg's") {
    val conf = experiment("async", "train { rounds = 4, algorithm = fedbuff, simulation { enabled = true, speed.sigma = 1.5 }, " +
      "fedbuff { buffer = 2, concurrency = 3 } }").getPath
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/async-2")._1 == 0)
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/async-1", "--set", "spark.master=\"local[1]\"")._1 == 0)
    assert(parameters(s"$scratch/runs/async-1").sameElements(parameters(s"$scratch/runs/async-2")))
    val header = Files.readAllLines(Paths.get(s"$scratch/runs/async-2", "metrics.csv")).get(0)
    assert(header.contains("simulated_time") && header.contains("mean_staleness"))
    val sync = experiment("sync", "train { rounds = 3 }").getPath
    assert(fedspark("train", sync, "--run-dir", s"$scratch/runs/sync-plain")._1 == 0)
    assert(fedspark("train", sync, "--run-dir", s"$scratch/runs/sync-timed", "--set", "train.simulation.enabled=true",
      "--set", "train.simulation.speed.sigma=1.5")._1 == 0)
    assert(parameters(s"$scratch/runs/sync-timed").sameElements(parameters(s"$scratch/runs/sync-plain")))
  }

  test("personalization: clients with local test sets score the global and their personal models; a resumed Ditto run scores the same") {
    val conf = experiment("ditto", "partition { scheme = dirichlet, beta = 0.3, local-test-fraction = 0.2 }, evaluation.clients-every = 2, " +
      "train { rounds = 4, algorithm = ditto }").getPath
    val whole = s"$scratch/runs/ditto-whole"
    assert(fedspark("train", conf, "--run-dir", whole)._1 == 0)
    val stopped = s"$scratch/runs/ditto-stopped"
    assert(fedspark("train", conf, "--run-dir", stopped, "--set", "train.stop-after-round=3")._1 == 2)
    assert(fedspark("resume", stopped)._1 == 0)
    assert(parameters(stopped).sameElements(parameters(whole)))
    assert(withoutSeconds(stopped) == withoutSeconds(whole))
    val header = Files.readAllLines(Paths.get(whole, "metrics.csv")).get(0).split(",")
    val rows = Files.readAllLines(Paths.get(whole, "metrics.csv")).asScala.tail.map(_.split(","))
    val mean = header.indexOf("client_accuracy_mean")
    val personal = header.indexOf("personal_accuracy_worst10")
    assert(mean > 0 && personal > 0)
    assert(rows.map(_(mean) == "NaN") == Seq(true, false, true, false), "scored after rounds 2 and 4")
    val spark = org.apache.spark.sql.SparkSession.builder().master("local[1]").getOrCreate()
    def scores(run: String) = spark.read.parquet(s"$run/clients").orderBy("round", "client").collect().map(_.toString).toSeq
    val table = spark.read.parquet(s"$whole/clients")
    assert(table.select("round").distinct().collect().map(_.getInt(0)).sorted.toSeq == Seq(2, 4))
    assert(table.filter("round = 4").count() == 6 && table.filter("test_examples = 0").count() == 0)
    assert(scores(stopped) == scores(whole))
  }

  test("prepare records its source; another configured source stops with one line and leaves the prepared tables untouched") {
    val conf = experiment("source", "data.prepared = \"" + scratch + "/prepared-source\"").getPath
    assert(fedspark("prepare", conf)._1 == 0)
    val record = Files.readString(Paths.get(s"$scratch/prepared-source/_source.conf"))
    assert(record.contains("format = \"idx\"") && record.contains("train-images-idx3-ubyte") && record.contains("bytes"), record)
    assert(fedspark("prepare", conf)._1 == 0, "the same source: the tables are kept")
    val before = Files.readString(Paths.get(s"$scratch/prepared-source/train/_dataset.conf"))
    val other = TestData.writeIdxFolder(scratch.resolve("idx-other").toFile, train = 120, test = 40)
    val (code, errors) = fedspark("prepare", conf, "--set", "data.source.path=\"" + other + "\"")
    assert(code == 2 && errors.contains("was prepared from another source") && errors.contains("remove that folder"), errors)
    assert(errors.linesIterator.size == 1, errors)
    assert(Files.readString(Paths.get(s"$scratch/prepared-source/train/_dataset.conf")) == before)
    val limited = fedspark("prepare", conf, "--set", "data.source.limit=100")._2
    assert(limited.contains("recorded: limit = 0; configured: limit = 100"), limited)
    assert(limited.contains("compared the data.source settings and each input file's path, size and modification time"), limited)
  }

  test("prepared tables copied where the source files are not: the settings alone are compared, and a changed one still stops") {
    val source = TestData.writeIdxFolder(scratch.resolve("idx-copied").toFile, train = 60, test = 20)
    val conf = experiment("copied", s"""data { source.path = "$source", prepared = "$scratch/prepared-here" }""").getPath
    assert(fedspark("prepare", conf)._1 == 0)
    // the cluster: the prepared tables copied to another folder, the IDX files nowhere
    val (here, there) = (scratch.resolve("prepared-here"), scratch.resolve("prepared-copied"))
    Files.walk(here).forEach(p => Files.copy(p, there.resolve(here.relativize(p).toString))) // parents before children
    TestData.deleteRecursively(source.toPath)
    val copied = Seq("--set", s"""data.prepared="$scratch/prepared-copied"""")
    val out = new java.io.ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new java.io.PrintStream(out, true))
    val code = try fedspark(Seq("prepare", conf) ++ copied: _*)._1 finally System.setOut(saved)
    assert(code == 0 && out.toString.contains("no input file of data.source is on this file system"), out.toString)
    val (stopped, errors) = fedspark(Seq("prepare", conf) ++ copied ++ Seq("--set", "data.source.limit=10"): _*)
    assert(stopped == 2 && errors.contains("recorded: limit = 0; configured: limit = 10")
      && errors.contains("compared the data.source settings only"), errors)
  }

  test("privacy: target-mode = stop ends the run, checkpointed, before the budget is exceeded; a larger budget resumes it") {
    val train = "train { rounds = 8, privacy { mode = central, noise-multiplier = 1.0, target-epsilon = 7, target-mode = stop } }"
    val conf = experiment("budget", train).getPath
    val runDir = s"$scratch/runs/budget"
    val (code, errors) = fedspark("train", conf, "--run-dir", runDir)
    assert(code == 0, errors)
    val rows = Files.readAllLines(Paths.get(runDir, "metrics.csv")).asScala.tail
    val epsilonColumn = Files.readAllLines(Paths.get(runDir, "metrics.csv")).get(0).split(",").indexOf("epsilon")
    val done = rows.size
    assert(done >= 1 && done < 8 && rows.last.split(",")(epsilonColumn).toDouble <= 7)
    assert(_root_.fedspark.engine.privacy.RdpAccountant.epsilonOf(0.5, 1.0, done + 1, 1e-5) > 7)
    // checkpointed at the round it stopped after, whatever checkpoint-every says
    assert(_root_.fedspark.engine.RunFolder.readCheckpoint(new org.apache.hadoop.fs.Path(runDir), new org.apache.hadoop.conf.Configuration()).round() == done)
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/budget-whole", "--set", "train.privacy.target-epsilon=100")._1 == 0)
    assert(fedspark("resume", runDir, "--set", "train.privacy.target-epsilon=100")._1 == 0)
    assert(parameters(runDir).sameElements(parameters(s"$scratch/runs/budget-whole")))
  }

  test("privacy: the command prints epsilon and the best order as TensorFlow Privacy does, or solves for the noise") {
    val out = new java.io.ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new java.io.PrintStream(out, true))
    try {
      assert(fedspark("privacy", "--q", "0.0025", "--noise", "1.3", "--steps", "6000", "--delta", "1e-5")._1 == 0)
      assert(fedspark("privacy", "--q", "0.1", "--steps", "100", "--target-epsilon", "4")._1 == 0)
    } finally System.setOut(saved)
    val printed = out.toString
    assert(printed.contains("epsilon = 0.724223") && printed.contains("best RDP order is 19"), printed)
    assert(printed.contains("noise multiplier 1.486"), printed)
    assert(fedspark("privacy", "--q", "0.1", "--steps", "10")._2.contains("either --noise or --target-epsilon"))
  }

  /**
   * A resumed run's audit: the same clients trained in rounds 1.. as in the uninterrupted run, two sessions (each
   * preloading its clients), and totals that count every task attempt of both sessions once.
   */
  private def assertAuditTotals(resumed: String, whole: String): Unit = {
    def rows(run: String) = _root_.fedspark.engine.PrivacyAudit.parseCsv(Files.readString(Paths.get(run, "audit.csv"))).asScala.toSeq
    def trained(run: String) = rows(run).filter(r => r.isClientTask && r.status == "success" && r.round > 0).flatMap(r => r.clientList.map(c => (r.round, c))).sorted
    assert(trained(resumed) == trained(whole))
    val successes = rows(resumed).filter(r => r.isClientTask && r.status == "success")
    val totals = com.typesafe.config.ConfigFactory.parseFile(new File(resumed, "audit.conf"))
    assert(totals.getInt("sessions") == 2 && successes.map(_.session).distinct.sorted == Seq(1, 2))
    assert(totals.getInt("client-updates") == successes.map(_.clientList.length).sum)
    assert(totals.getInt("client-tasks") == successes.size, "a row a task attempt")
    assert(successes.filter(_.round == 0).map(_.clientList.length).sum == 2 * 6, "each session preloads the 6 clients")
  }

  private def withoutSeconds(run: String) =
    Files.readAllLines(Paths.get(run, "metrics.csv")).asScala.map(_.split(",").patch(6, Nil, 1).mkString(","))

  test("scaffold: a run that dies in round 3 after its clients wrote their state resumes from the round-2 checkpoint, state applied once") {
    val conf = experiment("crash-scaffold", "train { rounds = 4, algorithm = scaffold, checkpoint-every = 2 }").getPath
    assert(fedspark("train", conf, "--run-dir", s"$scratch/runs/crash-whole")._1 == 0)
    val crashed = s"$scratch/runs/crashed"
    // local[2] retries nothing: the failed first attempts of round 3 end the run, after the clients committed their round-3 state
    val (code, error) = fedspark("train", conf, "--run-dir", crashed, "--set", "train.fail-first-attempts-in-round=3")
    assert(code != 0 && error.contains("fault drill"), error)
    val written = new File(s"$crashed/client-state").listFiles().flatMap(_.list()).toSet
    assert(written.contains("round=3.bin"), written)
    def checkpointRound(run: String) = _root_.fedspark.engine.RunFolder.readCheckpoint(new org.apache.hadoop.fs.Path(run), new org.apache.hadoop.conf.Configuration()).round()
    assert(checkpointRound(crashed) == 2, "checkpoint-every = 2")
    assert(fedspark("resume", crashed)._1 == 0)
    assert(parameters(crashed).sameElements(parameters(s"$scratch/runs/crash-whole")))
    assert(withoutSeconds(crashed) == withoutSeconds(s"$scratch/runs/crash-whole"))
    // dies in round 4 with round 3's row written past the round-2 checkpoint: resumed, each round's row once
    val late = s"$scratch/runs/crashed-late"
    assert(fedspark("train", conf, "--run-dir", late, "--set", "train.fail-first-attempts-in-round=4")._1 != 0)
    assert(Files.readAllLines(Paths.get(late, "metrics.csv")).size == 4 && checkpointRound(late) == 2)
    assert(fedspark("resume", late)._1 == 0)
    assert(withoutSeconds(late) == withoutSeconds(s"$scratch/runs/crash-whole"))
  }

  test("resume works wherever the run stopped: before its first checkpoint, after its last, after its end") {
    val conf = experiment("anywhere", "train { rounds = 3 }").getPath
    val whole = s"$scratch/runs/anywhere-whole"
    assert(fedspark("train", conf, "--run-dir", whole)._1 == 0)

    // Dies in round 1 (local[2] retries nothing): config.conf and no checkpoint; resume starts again in the same folder.
    val early = s"$scratch/runs/anywhere-early"
    assert(fedspark("train", conf, "--run-dir", early, "--set", "train.fail-first-attempts-in-round=1")._1 != 0)
    assert(new File(early, "config.conf").exists() && !new File(early, "checkpoint.bin").exists())
    assert(fedspark("resume", early)._1 == 0)
    assert(parameters(early).sameElements(parameters(whole)))
    assert(withoutSeconds(early) == withoutSeconds(whole))

    // Stopped after the last checkpoint, before model.zip (metrics/ already written): resume writes every output.
    new File(early, "model.zip").delete()
    assert(new File(early, "metrics").isDirectory)
    val (code, error) = fedspark("resume", early)
    assert(code == 0, error)
    assert(parameters(early).sameElements(parameters(whole)))

    // Complete: resume says so and changes nothing.
    val before = Files.readAllBytes(Paths.get(early, "model.zip"))
    val out = new StringWriter()
    val cli = FedSpark.commandLine()
    cli.setErr(new PrintWriter(out, true))
    val stdout = new java.io.ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new java.io.PrintStream(stdout, true))
    try assert(cli.execute("resume", early) == 0, out.toString) finally System.setOut(saved)
    assert(stdout.toString.contains("is complete (3 rounds); nothing to resume"), stdout.toString)
    assert(java.util.Arrays.equals(before, Files.readAllBytes(Paths.get(early, "model.zip"))))
  }

  test("--help lists the commands") {
    val out = new StringWriter()
    val cli = FedSpark.commandLine()
    cli.setOut(new PrintWriter(out, true))
    assert(cli.execute("--help") == 0)
    Seq("prepare", "partition", "train", "bench").foreach(c => assert(out.toString.contains(c)))
  }
}
