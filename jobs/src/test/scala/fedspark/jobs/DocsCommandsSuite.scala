package fedspark.jobs

import java.io.{ByteArrayOutputStream, File, OutputStream, PrintStream, PrintWriter, StringWriter}
import java.nio.file.{Files, Path, Paths}

import scala.collection.JavaConverters._
import scala.collection.mutable
import scala.collection.mutable.ArrayBuffer

import org.scalatest.BeforeAndAfterAll
import org.scalatest.funsuite.AnyFunSuite

import fedspark.testing.TestData

/**
 * Every command of the README's and the guides' (docs/ *.md) command blocks, parsed from the Markdown (a new block
 * is tested as soon as it is written), run in this JVM through the command line a user's `bin/fedspark` runs,
 * in the order a reader meets them, one test per document. What a command's text says it ends with is checked:
 * its run folder's name (`-> runs/NAME-<timestamp>/`), the files it names (`_label_heatmap.png`, `report.html`,
 * `part-*.parquet, _clients`), the output a `# ...` line under it shows (exactly where nothing was shortened, in
 * shape where numbers depend on the data), a table where it gives one; every run trains its rounds and writes its
 * metrics. A placeholder (`runs/quickstart-fedavg-<timestamp>`) is the run folder an earlier command of the same
 * document made under that name: a document that names a run none of its commands makes fails.
 *
 * Shortened, through `--set` after the document's own (so a key the docs name is still checked): one round of at
 * most 2 local epochs, the first 2,000 Fashion-MNIST training examples (synthetic sources: 5,000, and 1,000 test
 * examples), at most 30 clients, tune trials of 1-3 rounds and at most 3 of them; outputs go to a scratch folder per
 * document (a fresh clone's `data/` and `runs/`), never into the tree (`--run-dir` and `--plot` are moved there too).
 * Accuracy figures in the text are the full runs': only that the run ran and wrote its metrics is checked.
 *
 * Not run (see [[DocsCommandsSuite.notRun]]): `apt-get` and `mvn install`/`verify` are what `.ci/run` itself does,
 * and this suite runs inside it; `bench` needs Python with torch and minutes (its command line and experiment are
 * still parsed and loaded, and NewcomerSuite checks it finds its peer); `spark-submit` needs a cluster (the fedspark
 * arguments after its jar are parsed and loaded, the experiment file from conf/; StandaloneClusterSuite submits the
 * jar). Lines of other programs (python3, grep) and blocks with a language (```scala) are not this project's commands.
 *
 * The documents' tests take about four minutes (the PLD accountant's 23 s among them), so they are tagged
 * [[Packaged]]: `mvn verify` (.ci/run) runs them in the integration-test phase, a module's `mvn test` does not;
 * alone: `mvn -pl jobs verify -Dsuites=fedspark.jobs.DocsCommandsSuite`.
 */
class DocsCommandsSuite extends AnyFunSuite with BeforeAndAfterAll {
  import DocsCommandsSuite._

  /** The tree whose README.md, docs/, conf/ and results/ are read; FEDSPARK_DOCS_ROOT names another (a mutated copy). */
  private val repo: File = sys.env.get("FEDSPARK_DOCS_ROOT").map(new File(_)).getOrElse(Iterator.iterate(new File(".").getCanonicalFile)(_.getParentFile)
    .takeWhile(_ != null).find(d => new File(d, "README.md").isFile && new File(d, "conf").isDirectory).get)
  private val scratch: Path = Files.createTempDirectory("fedspark-docs-")
  private val fashionMnist = "/usr/share/datasets/fashion-mnist"

  override def afterAll(): Unit = TestData.deleteRecursively(scratch)

  private val documents: Seq[String] = "README.md" +: Option(new File(repo, "docs").listFiles()).getOrElse(Array[File]())
    .filter(_.getName.endsWith(".md")).map("docs/" + _.getName).sorted.toSeq


  test("the command blocks parse: continuations, inline and output comments, &&, env prefixes, optional [--set ...]") {
    val markdown =
      """text
        |```
        |apt-get install -y x && mvn -B -ntp -q -DskipTests install && bin/fedspark train conf/a.conf
        |bin/fedspark partition conf/a.conf --set partition.beta=0.1
        |                                   # 100 clients; _label_heatmap.png beside them
        |bin/fedspark train conf/a.conf --set 'tune.space={"train.lr"=[0.01,0.2]}' \
        |    --set train.algorithm=scaffold   # or fedprox
        |# -> data/x/partitions/iid-k100-seed0/_label_heatmap.png
        |#    100 clients, 60000 examples
        |
        |FEDSPARK_JAVA_OPTS="-Xmx1g -Xlog:gc" /usr/bin/time -v bin/fedspark train conf/b.conf [--set train.preload-clients=false]
        |OMP_NUM_THREADS=1 python3 experiments.py --model=simple-cnn
        |```
        |```scala
        |bin/fedspark train conf/c.conf
        |```
        |```
        |models/        DL4J model definitions
        |bin/fedspark   the launcher
        |```
        |```
        |# standalone
        |spark-submit --master spark://master:7077 --class fedspark.jobs.FedSpark \
        |  fedspark.jar train conf/quickstart.conf --set output.runs=hdfs:///fedspark/runs
        |```
        |""".stripMargin
    val found = parse("x.md", markdown)
    assert(found.map(_.words.take(2).mkString(" ")) == Seq("apt-get install", "mvn -B", "bin/fedspark train", "bin/fedspark partition",
      "bin/fedspark train", "bin/fedspark train", "spark-submit --master"), found)
    assert(found(6).words.takeRight(5) == List("fedspark.jar", "train", "conf/quickstart.conf", "--set", "output.runs=hdfs:///fedspark/runs"))
    assert(found.forall(_.line > 0) && found(3).line == 4 && found(4).line == 6 && found(5).line == 11)
    assert(found(3).described == List("100 clients; _label_heatmap.png beside them") && found(3).printed.isEmpty)
    assert(found(4).words == List("bin/fedspark", "train", "conf/a.conf", "--set", """tune.space={"train.lr"=[0.01,0.2]}""", "--set",
      "train.algorithm=scaffold"), found(4))
    assert(found(4).printed == List("-> data/x/partitions/iid-k100-seed0/_label_heatmap.png", "100 clients, 60000 examples"))
    assert(found(5).words == List("bin/fedspark", "train", "conf/b.conf", "--set", "train.preload-clients=false"))
    assert(shape("100 clients, 60000 examples, n_k min/median/max 1/491/2378, 0 empty").matcher(
      "  10 clients, 2000 examples, n_k min/median/max 180/200/215, 0 empty, mean label entropy 3.3 bits").find())
    assert(!shape("0 empty").matcher("3 clients").find())
    assert(choices("--set train.algorithm=<fedavg|fedprox> seed<1..5> runs/x-<timestamp>") == "--set train.algorithm=fedavg seed1 runs/x-<timestamp>")
  }

  test("the docs hold command blocks: every document's commands are found, run or said why not") {
    val all = documents.flatMap(d => parse(d, Files.readString(new File(repo, d).toPath)))
    val lines = all.map(c => f"${c.doc + ":" + c.line}%-26s ${notRun(c.words).map("not run: " + _).getOrElse("runs")}%-40s ${c.words.mkString(" ").take(110)}")
    info(lines.mkString("\n", "\n", ""))
    assert(all.count(_.words.head == Launcher) >= 30, s"only ${all.size} commands found in README.md and docs/")
    assert(documents.contains("docs/running.md") && all.exists(_.doc == "README.md"))
  }

  for (doc <- documents) {
    val name = s"$doc: every command of its command blocks runs and ends as its text says"
    test(name, Packaged)(runDocument(doc))
  }

  // ------------------------------------------------------------------------------------------------------------------

  /** One document's commands in order, in a scratch folder of its own: what a reader of it alone runs. */
  private def runDocument(doc: String): Unit = {
    val commands = parse(doc, Files.readString(new File(repo, doc).toPath))
    val home = Files.createDirectories(scratch.resolve(doc.replaceAll("[^A-Za-z0-9.]", "_")))
    val made = mutable.LinkedHashMap[String, File]() // run name (without what the test shortened) -> its folder
    val timings = ArrayBuffer[String]()
    for (command <- commands if command.words.head == Launcher) {
      notRun(command.words) match {
        case Some(why) =>
          loadOnly(command, home, made)
          timings += s"${command.where}: not run ($why), parsed and loaded"
        case None =>
          val start = System.nanoTime()
          runOne(command, home, made)
          timings += f"${command.where}: ${(System.nanoTime() - start) / 1e9}%.1f s  ${command.words.drop(1).mkString(" ").take(90)}"
      }
    }
    for (command <- commands if command.words.head == SparkSubmit) {
      val fedspark = command.words.dropWhile(!_.endsWith(".jar")).drop(1)
      assert(fedspark.nonEmpty, s"${command.where}: `${command.text}` names no jar and fedspark arguments after it")
      // the experiment file the cluster reads (shipped with --files, or in the image): the tree's conf/ of that name
      val conf = fedspark.drop(1).find(a => a.endsWith(".conf") && !new File(repo, a).exists()).map(a => a -> s"conf/${new File(a).getName}")
      loadOnly(command.copy(words = Launcher :: fedspark.map(a => conf.filter(_._1 == a).map(_._2).getOrElse(a))), home, made)
      timings += s"${command.where}: not run (${notRun(command.words).get}), its fedspark arguments parsed and loaded"
    }
    for (command <- commands if command.words.head != Launcher && command.words.head != SparkSubmit) notRun(command.words) match {
      case Some(why) => timings += s"${command.where}: not run ($why)"
      case None => fail(s"${command.where}: `${command.text}`: a Maven command DocsCommandsSuite does not know; run it here or say in notRun why not")
    }
    info(timings.mkString("\n", "\n", ""))
  }

  /** The command's arguments after `bin/fedspark`: placeholders substituted, inputs in the tree, outputs in `home`. */
  private def arguments(command: Command, home: Path, made: mutable.Map[String, File]): List[String] = {
    // a choice the docs leave to the reader: <a|b> is a, <1..5> is 1
    val args = command.words.tail.map(choices)
    val subcommand = args.indexWhere(!_.startsWith("-"))
    args.zipWithIndex.map { case (arg, i) =>
      val previous = if (i > 0) args(i - 1) else ""
      arg match {
        case _ if i == subcommand => arg
        case RunPlaceholder(label) =>
          made.getOrElse(label, fail(s"${command.where}: `$arg` names a run no earlier command of ${command.doc} made " +
            s"(runs made before it: ${if (made.isEmpty) "none" else made.keys.mkString(", ")})")).getPath
        case _ if arg.contains("<") && !previous.startsWith("--") && !arg.startsWith("-") =>
          // a file of the tree named by a pattern (`conf/fedprox-synthetic-<set>.conf`): the first that fits
          val pattern = java.util.regex.Pattern.compile(arg.split("<[^<>]*>", -1).map(java.util.regex.Pattern.quote).mkString("[^/]*"))
          val dir = new File(repo, arg.substring(0, arg.lastIndexOf('/', arg.indexOf('<')) + 1))
          Option(dir.list()).getOrElse(Array[String]()).sorted.map(n => new File(dir, n)).find(f => pattern.matcher(repo.toPath.relativize(f.toPath).toString).matches())
            .getOrElse(fail(s"${command.where}: no file of the tree fits `$arg`")).getPath
        case _ if previous == "--run-dir" => home.resolve("run-dir").resolve(arg.replaceAll("[^A-Za-z0-9._-]", "_")).toString
        case _ if previous == "--plot" => Files.createDirectories(home.resolve("plots")).resolve(new File(arg).getName).toString
        case _ if previous == "--set" =>
          val eq = arg.indexOf('=')
          val value = arg.substring(eq + 1)
          if (eq > 0 && value.matches("[A-Z][A-Z_]*")) {
            arg.substring(0, eq + 1) + placeholders.getOrElse(value, fail(s"${command.where}: --set $arg: the placeholder $value has no " +
              "value in DocsCommandsSuite.placeholders"))
          } else if (value.contains("<")) fail(s"${command.where}: --set $arg: no value for its placeholder")
          else arg
        case _ if !arg.startsWith("-") && !arg.contains("<") && new File(repo, arg).exists() => new File(repo, arg).getPath
        case _ => arg
      }
    }
  }

  /** An experiment file and the document's --sets, and what they load. */
  private case class Loaded(conf: File, sets: List[String], experiment: Experiment) {
    def plus(more: List[String]): Experiment = Experiment.load(conf, (sets ++ more).asJava)
  }

  /** The experiment a command loads as the document writes it (no shortening), or None for commands without one. */
  private def documented(command: Command, args: List[String]): Option[Loaded] = {
    val parsed = try FedSpark.commandLine().parseArgs(args: _*) catch {
      case e: picocli.CommandLine.ParameterException => fail(s"${command.where}: `${command.text}` does not parse: ${e.getMessage}")
    }
    val sub = parsed.subcommand()
    if (sub == null || !ExperimentCommands.contains(sub.commandSpec().name())) None
    else {
      val conf = new File(sub.matchedPositional(0).getValue[File].getPath)
      val sets = sub.matchedOption("--set") match {
        case null => List[String]()
        case option => option.getValue[java.util.List[String]].asScala.toList
      }
      try Some(Loaded(conf, sets, Experiment.load(conf, sets.asJava))) catch {
        case e: Exception => fail(s"${command.where}: `${command.text}` does not load: ${e.getMessage}", e)
      }
    }
  }

  /** A command that is not run: its command line parses and its experiment loads. */
  private def loadOnly(command: Command, home: Path, made: mutable.Map[String, File]): Unit =
    documented(command, arguments(command, home, made))

  /** `--set`s that make a documented command short and keep its outputs in `home`, for the experiment it loads. */
  private def shortened(experiment: Experiment, home: Path): List[String] = {
    val c = experiment.config()
    def inHome(key: String) = s"""$key="${home.resolve(c.getString(key).replaceAll("^[./]+", "").replaceAll("[^A-Za-z0-9._/=-]", "_"))}""""
    val sets = ArrayBuffer(inHome("data.prepared"), inHome("output.runs"), inHome("sweep.dir"), inHome("tune.dir"),
      "spark.conf.\"spark.ui.enabled\"=false")
    def atMost(key: String, most: Long, zeroMeansAll: Boolean = false): Unit =
      if (c.getLong(key) > most || (zeroMeansAll && c.getLong(key) == 0)) sets += s"$key=$most"
    atMost("train.rounds", 1)
    atMost("train.E", 2)
    c.getString("data.source.format") match {
      case "idx" => atMost("data.source.limit", 2000, zeroMeansAll = true)
      case "synthetic" => atMost("data.source.examples", 5000); atMost("data.source.test-examples", 1000); atMost("data.source.users", 200)
      case "leaf-synthetic" => atMost("data.source.devices", 30)
      case _ =>
    }
    atMost("partition.clients", 30)
    if (!c.getConfig("tune.space").isEmpty) {
      sets += "tune.min-rounds=1"
      atMost("tune.max-rounds", 3, zeroMeansAll = false)
      atMost("tune.trials", 3)
    }
    sets.toList
  }

  private def runOne(command: Command, home: Path, made: mutable.Map[String, File]): Unit = {
    val args = arguments(command, home, made)
    val experiment = documented(command, args)
    if (experiment.exists(_.experiment.config().getString("data.source.format") == "idx")) {
      assert(new File(fashionMnist, "train-images-idx3-ubyte.gz").isFile, s"install Debian's dataset-fashion-mnist ($fashionMnist)")
    }
    val extra = experiment.map(e => shortened(e.experiment, home)).getOrElse(Nil)
    val shortenedExperiment = experiment.map(_.plus(extra))
    val runs = new File(shortenedExperiment.map(_.config().getString("output.runs")).getOrElse(home.resolve("runs").toString))
    val before = Option(runs.list()).map(_.toSet).getOrElse(Set())
    val (code, out, errors) = execute(args ++ extra.flatMap(s => List("--set", s)))
    val where = s"${command.where}: `${command.text}`${if (extra.isEmpty) "" else " (with --set " + extra.mkString(" ") + ")"}"
    assert(code == 0, s"$where exited with $code:\n$errors")

    // what the text says the command ends with
    val sub = args.find(!_.startsWith("-")).getOrElse("")
    val comments = (command.described ++ command.printed).mkString(" ")
    val outputFolder: Option[File] = sub match {
      case "train" =>
        val folder = args.indexOf("--run-dir") match {
          case -1 =>
            val added = Option(runs.list()).map(_.toSet).getOrElse(Set()) -- before
            assert(added.size == 1, s"$where made ${added.size} run folders in $runs: $added")
            new File(runs, added.head)
          case i => new File(args(i + 1))
        }
        val metrics = Files.readAllLines(folder.toPath.resolve("metrics.csv")).asScala.toList
        val header = metrics.head.split(",").toList
        val rows = metrics.tail.map(_.split(",", -1).toList)
        val rounds = shortenedExperiment.get.config().getInt("train.rounds")
        assert(rows.nonEmpty && rows.size <= rounds && rows.map(_.head.toInt) == (1 to rows.size).toList, s"$where: metrics.csv holds rounds ${rows.map(_.head)}")
        val accuracy = rows.last(header.indexOf("test_accuracy")).toDouble
        assert(accuracy >= 0 && accuracy <= 1, s"$where: test accuracy $accuracy")
        assert(new File(folder, "model.zip").isFile && new File(folder, "config.conf").isFile, s"$where: no model.zip or config.conf in $folder")
        val label = if (args.contains("--name")) args(args.indexOf("--name") + 1) else experiment.get.experiment.runLabel()
        for (claimed <- RunPlaceholder.findAllMatchIn(comments).map(_.group(1)) if !claimed.matches("[A-Z]+")) {
          assert(claimed == label, s"$where: the text names its run runs/$claimed-<timestamp>, the command names it $label-<timestamp>")
        }
        made(label) = folder
        Some(folder)
      case "partition" =>
        val folder = new File(shortenedExperiment.get.partitionedData().toUri.getPath)
        assert(new File(folder, "_clients").exists(), s"$where: no client index in $folder")
        for (path <- DataPath.findAllMatchIn(comments).map(_.group(0))) {
          val documentedFolder = experiment.get.experiment.partitionedData().toString
          assert(path.startsWith(documentedFolder + "/") || path.stripSuffix("/") == documentedFolder,
            s"$where: the text says it writes $path, the command writes $documentedFolder")
          val file = path.stripSuffix("/").drop(documentedFolder.length + 1)
          assert(file.isEmpty || new File(folder, file).exists(), s"$where: the text names $path; no $file in $folder")
        }
        Some(folder)
      case "prepare" =>
        val folder = new File(shortenedExperiment.get.config().getString("data.prepared"))
        for (path <- DataPath.findAllMatchIn(comments).map(_.group(0))) {
          val documentedFolder = experiment.get.experiment.config().getString("data.prepared")
          assert(path.startsWith(documentedFolder.stripSuffix("/") + "/"), s"$where: the text says it writes $path, the command writes $documentedFolder")
          for (part <- expandBraces(path.substring(documentedFolder.stripSuffix("/").length + 1).stripSuffix("/")).filter(_.nonEmpty)) {
            assert(new File(folder, part).exists(), s"$where: the text names $path; no $part in $folder")
          }
        }
        assert(new File(folder, "train").isDirectory && new File(folder, "test").isDirectory, s"$where: no train/ and test/ in $folder")
        Some(folder)
      case "sweep" =>
        val c = shortenedExperiment.get.config()
        val folder = new File(c.getString("sweep.dir"))
        val points = c.getConfig("sweep.axes").root().keySet().asScala.toList.map(k => c.getConfig("sweep.axes").root().get(k)
          .unwrapped().asInstanceOf[java.util.List[_]].size).product
        val results = Files.readAllLines(folder.toPath.resolve("results.csv")).asScala
        assert(results.size == points + 1, s"$where: results.csv holds ${results.size - 1} points of $points")
        assert(Files.readString(folder.toPath.resolve("results.md")).linesIterator.count(_.startsWith("| ")) == points + 2,
          s"$where: results.md is not a table of its $points points")
        Some(folder)
      case "tune" =>
        val folder = new File(shortenedExperiment.get.config().getString("tune.dir"))
        assert(out.contains("tune: best ") && new File(folder, "results.md").isFile, s"$where: no best trial named, or no results.md in $folder")
        Some(folder)
      case "report" =>
        val folder = new File(args(args.indexOf("report") + 1))
        assert(new File(folder, "report.html").isFile, s"$where: no report.html in $folder")
        Some(folder)
      case "results" =>
        val table = out.linesIterator.filter(_.startsWith("|")).toList
        assert(table.size >= 3 && table(1).matches("""\|( ?-+ ?\|)+"""), s"$where printed no Markdown table:\n$out")
        if (args.contains("--plot")) {
          val png = new File(args(args.indexOf("--plot") + 1))
          assert(png.isFile && javax.imageio.ImageIO.read(png) != null, s"$where: no picture $png")
        }
        None
      case "resume" =>
        assert(out.contains("done: ") || out.contains("complete"), s"$where: resume said neither done nor complete:\n$out")
        None
      case "settings" =>
        val prefix = args.drop(1).headOption
        val listed = out.linesIterator.filter(_.contains(" = ")).toList
        assert(listed.nonEmpty && prefix.forall(p => listed.forall(_.startsWith(p + "."))), s"$where listed:\n$out")
        None
      case _ =>
        assert(args != List("--help") || out.contains("Usage: fedspark"), s"$where printed no usage:\n$out")
        None
    }
    // files the text names (`_label_heatmap.png beside them`, `(part-*.parquet, _clients)`, `report.html: ...`)
    for (folder <- outputFolder; file <- FileName.findAllMatchIn(comments).map(_.group(1)).toList.distinct) {
      val glob = java.util.regex.Pattern.compile(file.split("\\*", -1).map(java.util.regex.Pattern.quote).mkString(".*"))
      assert(Option(folder.list()).exists(_.exists(glob.matcher(_).matches())), s"$where: the text names $file; $folder holds ${folder.list().mkString(", ")}")
    }
    // the output a `# ...` line under the command shows: as printed where nothing was shortened, in shape otherwise
    for (line <- command.printed.filterNot(_.startsWith("->")).map(_.stripPrefix("...").trim) if line.nonEmpty) {
      if (extra.isEmpty) assert(out.contains(line), s"$where: the text shows `$line`; it printed:\n$out")
      else assert(shape(line).matcher(out).find(), s"$where: the text shows `$line`; nothing of that shape in what it printed:\n$out")
    }
  }

  /** Runs the command line in this JVM: its exit code, what it printed (also shown in the build's log) and its errors. */
  private def execute(args: List[String]): (Int, String, String) = {
    val out = new ByteArrayOutputStream()
    val saved = System.out
    val tee = new PrintStream(new OutputStream {
      override def write(b: Int): Unit = { out.write(b); saved.write(b) }
      override def write(b: Array[Byte], off: Int, len: Int): Unit = { out.write(b, off, len); saved.write(b, off, len) }
    }, true, "UTF-8")
    val errors = new StringWriter()
    System.setOut(tee)
    try {
      val cli = FedSpark.commandLine()
      cli.setErr(new PrintWriter(errors, true))
      val code = cli.execute(args: _*)
      (code, out.toString("UTF-8"), errors.toString)
    } finally System.setOut(saved)
  }
}

object DocsCommandsSuite {

  val Launcher = "bin/fedspark"
  val SparkSubmit = "spark-submit"


  /** Values for the capitals the docs write in a command's place (`--set train.robust.rule=RULE`). */
  val placeholders: Map[String, String] = Map("RULE" -> "krum", "ATTACK" -> "sign-flip", "E" -> "2")

  /** The fedspark subcommands that read an experiment file (CONF and --set). */
  val ExperimentCommands = Set("prepare", "partition", "train", "sweep", "tune", "bench")

  /** Why a command is not run, or None when it is. */
  def notRun(words: List[String]): Option[String] = words match {
    case "apt-get" :: _ => Some("installs packages: what .ci/run does")
    case "mvn" :: rest if rest.contains("install") || rest.contains("verify") => Some("builds and tests: what .ci/run does, around this suite")
    case "mvn" :: rest if rest.exists(_.contains("pitest")) => Some("mutation testing: tens of minutes (docs/testing.md)")
    case "mvn" :: _ => None // any other Maven command is for this suite to learn: it fails as not run below
    case SparkSubmit :: _ => Some("needs a cluster")
    case Launcher :: rest if rest.find(!_.startsWith("-")).contains("bench") => Some("needs Python with torch, and minutes")
    case Launcher :: _ => None
    case program :: _ => Some(s"$program: not this project's launcher")
    case Nil => Some("empty")
  }

  /** A command of a document: its words (quotes removed, continuations joined), its inline comments and the `# ` lines under it. */
  case class Command(doc: String, line: Int, words: List[String], described: List[String], printed: List[String]) {
    def where: String = s"$doc:$line"
    def text: String = words.mkString(" ")
  }

  val RunPlaceholder = """runs/([A-Za-z0-9._=,+-]+?)-<timestamp>/?""".r
  val DataPath = """(?<![\w/])data/[^\s()]+""".r
  val FileName = """(?<![\w/.*-])([A-Za-z0-9_*-]+\.(?:png|html|parquet|csv|md|zip|bin)|_clients)(?![\w/])""".r

  private val Programs = Set(Launcher, "mvn", "apt-get", SparkSubmit)

  /** The commands of the fenced blocks without a language (or a shell's) in a Markdown text. */
  def parse(doc: String, markdown: String): Seq[Command] = {
    val lines = markdown.split("\n", -1).toList
    val commands = ArrayBuffer[Command]()
    var inBlock = false
    var shell = false
    var first = false
    case class Open(line: Int, var text: String, described: ArrayBuffer[String], printed: ArrayBuffer[String], var continued: Boolean)
    var open: Option[Open] = None
    def close(): Unit = {
      for (o <- open) {
        val (code, comment) = splitComment(o.text)
        val words = tokens(code.replaceAll("""\[(--[^\]]*)\]""", "$1"))
        for (segment <- split(words, Set("&&", ";", "||"))) {
          val command = dropPrefixes(segment)
          if (command.nonEmpty) commands += Command(doc, o.line, command, (comment.toList ++ o.described).map(_.trim), o.printed.toList)
        }
      }
      open = None
    }
    for ((line, index) <- lines.zipWithIndex) {
      if (line.startsWith("```")) {
        close()
        if (!inBlock) { inBlock = true; shell = Set("", "sh", "bash", "shell", "console").contains(line.drop(3).trim); first = true }
        else inBlock = false
      } else if (inBlock && shell) {
        val trimmed = line.trim
        if (open.exists(_.continued)) {
          val o = open.get
          o.text = o.text.stripSuffix("\\") + " " + trimmed
          o.continued = trimmed.endsWith("\\")
        } else if (trimmed.isEmpty) close()
        else if (line.startsWith("#")) open.foreach(_.printed += line.drop(1).trim)
        else if (trimmed.startsWith("#")) open.foreach(_.described += trimmed.drop(1).trim)
        else {
          close()
          // a block of commands starts with one: not a listing (`bin/fedspark   the launcher`) or a program's output
          if (first) shell = dropPrefixes(tokens(splitComment(trimmed)._1)).headOption.exists(Programs)
          first = false
          if (shell) open = Some(Open(index + 1, trimmed, ArrayBuffer(), ArrayBuffer(), trimmed.endsWith("\\")))
        }
      }
    }
    close()
    commands.filter(c => Programs.contains(c.words.head)).toList
  }

  /** Code and the comment after an unquoted ` #`. */
  private def splitComment(text: String): (String, Option[String]) = {
    var quote: Char = 0
    for (i <- text.indices) {
      val ch = text(i)
      if (quote != 0) { if (ch == quote) quote = 0 }
      else if (ch == '\'' || ch == '"') quote = ch
      else if (ch == '#' && (i == 0 || text(i - 1).isWhitespace)) return (text.substring(0, i), Some(text.substring(i + 1)))
    }
    (text, None)
  }

  /** Shell words: whitespace separates, quotes group and are removed. */
  private def tokens(code: String): List[String] = {
    val words = ArrayBuffer[String]()
    val word = new StringBuilder
    var quote: Char = 0
    var inWord = false
    for (ch <- code) {
      if (quote != 0) { if (ch == quote) quote = 0 else word += ch }
      else if (ch == '\'' || ch == '"') { quote = ch; inWord = true }
      else if (ch.isWhitespace) { if (inWord) { words += word.toString; word.clear(); inWord = false } }
      else { word += ch; inWord = true }
    }
    if (inWord) words += word.toString
    words.toList
  }

  private def split(words: List[String], separators: Set[String]): List[List[String]] =
    words.foldRight(List(List[String]())) { (w, acc) => if (separators(w)) Nil :: acc else (w :: acc.head) :: acc.tail }

  /** Without `VAR=value` assignments and `time` wrappers in front. */
  private def dropPrefixes(words: List[String]): List[String] = words match {
    case w :: rest if w.matches("[A-Z_][A-Z0-9_]*=.*") => dropPrefixes(rest)
    case ("/usr/bin/time" | "time") :: rest => dropPrefixes(rest.dropWhile(_.startsWith("-")))
    case _ => words
  }

  /** A choice the docs leave to the reader, made: `<a|b>` is a, `<1..5>` is 1 (`<timestamp>` and `<set>` stay). */
  def choices(text: String): String =
    """<([^<>|]+)(?:\|[^<>|]+)+>|<(\d+)\.\.\d+>""".r.replaceAllIn(text, m => java.util.regex.Matcher.quoteReplacement(Option(m.group(1)).getOrElse(m.group(2))))

  /** `{a,b}` expanded: `x/{train,test}` -> x/train, x/test. */
  def expandBraces(path: String): List[String] = """\{([^{}]*)\}""".r.findFirstMatchIn(path) match {
    case Some(m) => m.group(1).split(",").toList.flatMap(alt => expandBraces(path.substring(0, m.start) + alt + path.substring(m.end)))
    case None => List(path)
  }

  /** A line of output with its numbers free: `100 clients, 0 empty` matches `10 clients, 0 empty`. */
  def shape(line: String): java.util.regex.Pattern =
    java.util.regex.Pattern.compile(line.split("""\d[\d,.]*\d|\d""", -1).map(java.util.regex.Pattern.quote).mkString("""\d(?:[\d,.]*\d)?"""))
}
