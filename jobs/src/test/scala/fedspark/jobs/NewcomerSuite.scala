package fedspark.jobs

import java.io.{ByteArrayOutputStream, File, PrintStream}
import java.nio.file.{Files, Paths}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.BadInputException

/** What a newcomer meets first: the settings and their docs, mistakes named before Spark starts, runs named after
 * what ran, results and reports straight from run and sweep folders, and bench's own peer. */
class NewcomerSuite extends AnyFunSuite with CommandLineFixture {

  /** Runs the command line; returns the exit code, what it printed and what it printed as an error. */
  private def printed(args: String*): (Int, String, String) = {
    val out = new ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new PrintStream(out, true, "UTF-8"))
    try {
      val (code, errors) = fedspark(args: _*)
      (code, out.toString("UTF-8"), errors)
    } finally System.setOut(saved)
  }

  test("settings lists every key with its default and a one-line doc from reference.conf; a prefix narrows it") {
    val (code, all, _) = printed("settings")
    assert(code == 0)
    val lines = all.linesIterator.toSeq
    val keys = KnownSettings.known().asScala.map(_.stripSuffix("."))
    assert(keys.size > 100)
    for (key <- keys) {
      val line = lines.find(_.startsWith(key + " = "))
      assert(line.isDefined, s"$key is not listed")
      assert(line.get.matches(""".* = \S.*  # \S.*"""), s"$key has no default or no doc: ${line.get}")
    }
    assert(lines.exists(l => l.startsWith("train.lr = 0.05 ") && l.endsWith("  # lr: the clients' SGD learning rate")))
    assert(lines.exists(l => l.startsWith("train.algorithm = \"fedavg\"") && l.contains("fedprox, scaffold")), "a list of choices ends the doc")
    val (_, train, _) = printed("settings", "train.fedprox")
    assert(train.linesIterator.toSeq.map(_.takeWhile(_ != ' ')) == Seq("train.fedprox.mu"))
    val (missing, _, errors) = printed("settings", "trian")
    assert(missing == 2 && errors.contains("no setting starts with 'trian'; closest: 'train'"), errors)
  }

  test("train --help points to settings and lists the algorithms, models and schemes from their registries") {
    val (code, help, _) = printed("train", "--help")
    assert(code == 0)
    val flat = help.replaceAll("\\s+", " ")
    assert(flat.contains("fedspark settings [PREFIX]"))
    for (name <- _root_.fedspark.engine.strategy.Strategies.names().asScala ++ _root_.fedspark.models.Models.names().asScala
         ++ _root_.fedspark.partition.Partitioners.SCHEMES.split(", ")) {
      assert(flat.contains(" " + name + ",") || flat.contains(" " + name + " ") || flat.endsWith(" " + name + " "), name)
    }
    val (_, usage, _) = printed("--help")
    assert(!usage.contains("one directory per client") && usage.replaceAll("\\s+", " ").contains("sorted by client"), usage)
  }

  test("a typo is matched on its key's last part first; a value of the wrong type is named with its key and type before Spark") {
    val conf = experiment("typed", "").getPath
    val typo = fedspark("train", conf, "--set", "train.lerning-rate=0.1")
    assert(typo._1 == 2 && typo._2.contains("unknown setting 'train.lerning-rate'; closest known setting: 'train.lr'"), typo._2)
    val known = KnownSettings.known()
    assert(KnownSettings.closest("train.fedprox.muu", known) == "train.fedprox.mu")
    assert(KnownSettings.closest("partition.sed", known) == "partition.seed")
    assert(KnownSettings.closest("train.epochs", known) == "train.E")
    // Experiment.load is where the CLI stops: before any Spark session exists
    val loaded = intercept[BadInputException](Experiment.load(new File(conf), Seq("train.lr=abc").asJava))
    assert(loaded.getMessage == "--set train.lr=abc: train.lr takes a number (its default: 0.05), got \"abc\"", loaded.getMessage)
    val cli = fedspark("train", conf, "--set", "train.lr=abc")
    assert(cli._1 == 2 && cli._2.trim == "fedspark: " + loaded.getMessage, cli._2)
    val flag = intercept[BadInputException](Experiment.load(new File(conf), Seq("train.preload-clients=maybe").asJava))
    assert(flag.getMessage.contains("train.preload-clients takes true or false"), flag.getMessage)
    val list = intercept[BadInputException](Experiment.load(new File(conf), Seq("train.update.transforms=top-k").asJava))
    assert(list.getMessage.contains("train.update.transforms takes a list"), list.getMessage)
    // the last --set of a key wins, over the file
    assert(Experiment.load(new File(conf), Seq("train.rounds=5", "train.rounds=7").asJava).config.getInt("train.rounds") == 7)
    // a key that only starts like a free-form block, a setting outside the fedspark block, a set() of an unknown key
    def unknown(overrides: String*) = intercept[BadInputException](Experiment.load(new File(conf), overrides.asJava)).getMessage
    assert(unknown("model-bias=uniform").contains("unknown setting 'model-bias'"))
    assert(unknown("tune.spaces=1").contains("unknown setting 'tune.spaces'"))
    val outside = scratch.resolve("outside.conf").toFile
    Files.writeString(outside.toPath, scala.io.Source.fromFile(conf).mkString + "\ntrain { rounds = 3 }\n")
    val notInside = intercept[BadInputException](Experiment.load(outside, Seq[String]().asJava)).getMessage
    assert(notInside.endsWith("unknown setting 'train' (every setting is inside the fedspark block)"), notInside)
    val set = intercept[BadInputException](Experiment.defaults().set("train.epochs", 3)).getMessage
    assert(set.contains("unknown setting 'train.epochs'; closest known setting: 'train.E'"), set)
    val inFile = experiment("typed-file", "train { B = lots }")
    val file = intercept[BadInputException](Experiment.load(inFile, java.util.List.of()))
    assert(file.getMessage == s"""$inFile: train.B takes a number or inf (its default: 10), got "lots"""", file.getMessage)
    // what the settings take besides their type still loads
    Experiment.load(new File(conf), java.util.List.of("train.B=inf", "train.lr=\"0.2\"", "train.preload-clients=false", "train.update.transforms=[top-k]"))
  }

  test("a run is named after its experiment, algorithm and the settings --set changed, or --name") {
    val conf = experiment("names", "")
    def label(sets: String*) = Experiment.load(conf, sets.asJava).runLabel()
    assert(label() == "names-fedavg")
    assert(label("train.algorithm=scaffold", "partition.scheme=dirichlet", "partition.beta=0.1") == "names-scaffold-scheme=dirichlet-beta=0.1")
    assert(label("train.E=2", "train.lr=0.2") == "names-fedavg-lr=0.2", "E = 2 is the file's own: not a difference")
    assert(label("train.update.transforms=[top-k,quantize]", "train.fedprox.mu=0.1", "train.privacy.clip=0.5", "train.secure-aggregation.enabled=true")
      == "names-fedavg-transforms=top-k,quantize-mu=0.1-clip=0.5-secure-aggregation=true", "an on/off switch by its block's name")
    assert(label("train.seed=5", "partition.seed=5") == "names-fedavg-train.seed=5-partition.seed=5", "alike last parts keep their keys")
    assert(label("output.runs=elsewhere", "spark.master=\"local[1]\"") == "names-fedavg", "where it ran is not what ran")
    assert(Experiment.load(experiment("fedsgd-names", "train { algorithm = fedsgd, E = 1, B = inf }"), java.util.List.of()).runLabel() == "fedsgd-names")

    val (code, errors) = fedspark("train", conf.getPath, "--set", "train.algorithm=fedprox", "--set", "train.lr=0.2", "--set", "train.rounds=1")
    assert(code == 0, errors)
    val named = fedspark("train", conf.getPath, "--set", "train.rounds=1", "--name", "mine")
    assert(named._1 == 0, named._2)
    val folders = new File(s"$scratch/runs").list().toSeq
    assert(folders.exists(_.matches("""names-fedprox-lr=0\.2-rounds=1-\d{8}-\d{6}""")), folders)
    assert(folders.exists(_.matches("""mine-\d{8}-\d{6}""")), folders)
    val mine = folders.find(_.startsWith("mine-")).get
    assert(com.typesafe.config.ConfigFactory.parseFile(new File(s"$scratch/runs/$mine/config.conf")).getString("fedspark.name") == "mine")
    val bad = fedspark("train", conf.getPath, "--name", "a/b")
    assert(bad._1 == 2 && bad._2.contains("--name takes letters"), bad._2)
  }

  test("train ends saying where its seconds went: training the rounds (metrics.csv's seconds summed) and outside them") {
    val runDir = s"$scratch/runs/timed"
    val (code, out, errors) = printed("train", experiment("timed", "").getPath, "--run-dir", runDir)
    assert(code == 0, errors)
    val rows = Files.readAllLines(new File(runDir, "metrics.csv").toPath).asScala.drop(1)
    val training = rows.map(_.split(",")(6).toDouble).sum
    val line = "3 rounds in ([0-9.]+) s: ([0-9.]+) s training them, ([0-9.]+) s outside them \\(checking the data, loading the clients, evaluation, writing\\)".r
    val said = out.linesIterator.flatMap(l => line.findFirstMatchIn(l)).toSeq
    assert(said.size == 1, out)
    val Seq(all, inRounds, outside) = (1 to 3).map(i => said.head.group(i).toDouble)
    assert(math.abs(inRounds - training) <= 0.051, s"$inRounds vs $training") // printed to 0.1 s
    assert(outside > 0 && math.abs(all - inRounds - outside) <= 0.11, said.head)
  }

  test("results and report take run folders and sweep folders; a sweep's page carries its rounds-to-target table") {
    val sweepDir = s"$scratch/sweep-of-seeds"
    val conf = experiment("seeds", s"""sweep { dir = "$sweepDir", target = 0.3, axes { "train.seed" = [1, 2] } }""")
    val (code, _, errors) = printed("sweep", conf.getPath)
    assert(code == 0, errors)
    def finalAccuracy(run: String) = "%.2f%%".format(100 * Files.readAllLines(Paths.get(sweepDir, run, "metrics.csv")).asScala.last.split(",")(5).toDouble)

    val (sweepCode, sweepTable, sweepErrors) = printed("results", sweepDir)
    assert(sweepCode == 0, sweepErrors)
    val rows = sweepTable.linesIterator.toSeq
    assert(rows.size == 4 && rows(2).startsWith(s"| seed=1 | 3 | ${finalAccuracy("seed=1")} |") && rows(3).startsWith(s"| seed=2 | 3 | ${finalAccuracy("seed=2")} |"),
      sweepTable)
    val (runCode, runTable, _) = printed("results", s"$sweepDir/seed=2", s"$sweepDir/seed=1")
    assert(runCode == 0 && runTable.linesIterator.toSeq.drop(2).map(_.split(" \\| ").head) == Seq("| seed=2", "| seed=1"), runTable)

    val (reportCode, _, reportErrors) = printed("report", sweepDir)
    assert(reportCode == 0, reportErrors)
    val html = Files.readString(Paths.get(sweepDir, "report.html"))
    assert(html.contains("<h2>Rounds to target</h2>") && html.contains("Target test accuracy: 0.3000"), html.take(2000))
    val results = Files.readAllLines(Paths.get(sweepDir, "results.csv")).asScala
    assert(results.head.startsWith("point,train.seed,rounds,final_accuracy,best_accuracy,rounds_to_target,"))
    for (line <- results.tail) {
      val cells = line.split(",", -1)
      val toTarget = if (cells(5).isEmpty) "not reached" else cells(5)
      assert(html.contains(s"<tr><td>${cells(0)}</td><td>${cells(1)}</td><td>${cells(2)}</td><td>${cells(3)}</td><td>${cells(4)}</td><td>$toTarget</td>"),
        line)
    }
    val (_, _, none) = printed("results", s"$scratch/idx")
    assert(none.contains("no run in"), none)
  }

  test("bench finds the project's own peer without --peer, in the source tree and in the jar; a missing torch is one line saying what to install") {
    val bench = new Bench()
    val found = bench.peerScript()
    assert(found.getCanonicalFile == new File("../peers/pytorch_fedavg.py").getCanonicalFile, found)
    assert(getClass.getResourceAsStream("/fedspark/" + Bench.PEER) != null, "the jar carries the peer")
    val conf = experiment("bench", "").getPath
    val (code, out, errors) = printed("bench", conf, "--python", s"$scratch/no-python")
    assert(code == 2 && errors.trim == s"fedspark: the PyTorch peer needs Python 3 with torch: no interpreter $scratch/no-python; install them "
      + s"with: ${Bench.INSTALL} (or set --python)", errors)
    assert(!out.contains("fedspark partition"), "nothing ran")
    val noTorch = printed("bench", conf, "--python", "/bin/false")
    assert(noTorch._1 == 2 && noTorch._3.contains("/bin/false cannot import torch; install them with: apt-get install -y python3-torch libopenblas0-pthread"),
      noTorch._3)
  }

  test("bench gives the peer CIFAR-10 and Shakespeare with the shipped CNN and LSTM (as files, layer lists or niid-cnn); other models stop in one line") {
    val bench = new Bench()
    def command(conf: String, sets: String*): Seq[String] =
      bench.peerCommand(Experiment.load(new File(s"../conf/$conf"), sets.asJava).config()).asScala.toSeq
    def after(line: Seq[String], option: String): String = line(line.indexOf(option) + 1)

    val cifar = command("bench-cifar-cnn.conf", "model=\"../conf/models/cifar10-cnn.conf\"")
    assert(after(cifar, "--format") == "cifar10" && after(cifar, "--model") == "cifar-cnn" && after(cifar, "--data") == "data/bench/cifar10", cifar)
    assert(after(command("bench-cifar-cnn.conf", "model=niid-cnn"), "--model") == "cifar-cnn")
    val inline = "model=[{type=conv2d, filters=6, kernel=5}, {type=max-pool, kernel=2}, {type=conv2d, kernel=5, filters=16}, " +
      "{type=max-pool, kernel=2}, {type=dense, units=120}, {type=dense, units=84}, {type=output}]"
    assert(after(command("bench-cifar-cnn.conf", inline), "--model") == "cifar-cnn", "a list of the same layers, keys in any order")
    val lstm = command("bench-shakespeare-lstm.conf", "model=\"../conf/models/shakespeare-lstm.conf\"")
    assert(after(lstm, "--format") == "shakespeare" && after(lstm, "--model") == "shakespeare-lstm" && after(lstm, "--split") == "natural"
      && after(lstm, "--K") == "0", lstm)
    val idx = command("bench-cnn-b10.conf")
    assert(after(idx, "--format") == "idx" && after(idx, "--model") == "cnn", idx)

    def refused(conf: String, sets: String*): String = intercept[BadInputException](command(conf, sets: _*)).getMessage
    assert(refused("bench-cifar-cnn.conf", "model=\"../conf/models/shakespeare-lstm.conf\"").startsWith(
      "the peer has no model like ../conf/models/shakespeare-lstm.conf on cifar10 data"))
    assert(refused("bench-cifar-cnn.conf", "model=mcmahan-cnn").startsWith("the peer has no model like mcmahan-cnn on cifar10 data"))
    assert(refused("bench-cifar-cnn.conf", "model=[{type=conv2d, filters=8, kernel=5}, {type=output}]").startsWith("the peer has no model like"))
    assert(refused("bench-shakespeare-lstm.conf", "model=\"../conf/models/shakespeare-lstm.conf\"", "partition.clients=10").startsWith("the peer has no partition scheme like natural here"))
    assert(refused("bench-cnn-b10.conf", "data.source.format=csv").startsWith(
      "the peer reads IDX files, CIFAR-10's binary batches and LEAF Shakespeare JSON only; data.source.format is csv"))
  }
}
