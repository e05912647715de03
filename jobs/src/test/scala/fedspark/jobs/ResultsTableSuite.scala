package fedspark.jobs

import java.nio.file.{Files, Path}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.BadInputException
import fedspark.testing.TestData

/** The Markdown tables the docs are generated from: final and best accuracy of each metrics CSV, beside published figures. */
class ResultsTableSuite extends AnyFunSuite {

  private def metrics(accuracies: Double*): String =
    ("round,clients,samples,train_loss,test_loss,test_accuracy,seconds" +: accuracies.zipWithIndex.map { case (a, i) =>
      s"${i + 1},10,600,0.5,0.5,$a,1.0"
    }).mkString("\n") + "\n"

  private def folder(root: Path, name: String, files: (String, String)*): Path = {
    val dir = Files.createDirectories(root.resolve(name))
    files.foreach { case (file, text) => Files.writeString(dir.resolve(file), text) }
    dir
  }

  test("one folder: a row per CSV with final and best accuracy and its round; several folders: rows named folder / row") {
    val root = Files.createTempDirectory("fedspark-results-")
    try {
      val iid = folder(root, "iid", "fedavg.csv" -> metrics(0.5, 0.8, 0.7), "published.csv" -> "row,paper\nfedavg,89.0\n")
      val c2 = folder(root, "c2", "fedavg.csv" -> metrics(0.4, 0.6), "published.csv" -> "row,paper\n")
      val one = ResultsTable.table(iid.toFile)
      assert(one.linesIterator.toList == List("| run | rounds | final test accuracy | best test accuracy (round) | paper |",
        "|---|---|---|---|---|", "| fedavg | 3 | 70.00% | 80.00% (2) | 89.0 |"), one)
      val both = ResultsTable.table(List(iid.toFile, c2.toFile).asJava)
      assert(both.linesIterator.drop(2).toList == List("| iid / fedavg | 3 | 70.00% | 80.00% (2) | 89.0 |",
        "| c2 / fedavg | 2 | 60.00% | 60.00% (2) |  |"), both)
      val other = folder(root, "other", "fedavg.csv" -> metrics(0.5), "published.csv" -> "row,flower\n")
      val error = intercept[BadInputException](ResultsTable.table(List(iid.toFile, other.toFile).asJava))
      assert(error.getMessage.contains("published.csv columns [flower] differ from [paper]"), error.getMessage)
    } finally TestData.deleteRecursively(root)
  }

  test("--last and --mean add a metrics column's last-round value and its mean over rounds; a run without it leaves the cell empty") {
    val root = Files.createTempDirectory("fedspark-results-")
    try {
      val withColumns = "round,clients,samples,train_loss,test_loss,test_accuracy,seconds,upload_bytes,epsilon\n" +
        "1,10,600,0.5,0.5,0.5,1.0,800000,1.5\n2,10,600,0.5,0.5,0.6,1.0,600000,2.25\n"
      val dir = folder(root, "dp", "central.csv" -> withColumns, "plain.csv" -> metrics(0.7))
      val table = ResultsTable.table(List(dir.toFile).asJava, List("epsilon").asJava, List("upload_bytes").asJava)
      assert(table.linesIterator.toList == List(
        "| run | rounds | final test accuracy | best test accuracy (round) | epsilon (last round) | upload_bytes (mean per round) |",
        "|---|---|---|---|---|---|",
        "| central | 2 | 60.00% | 60.00% (2) | 2.250 | 700,000 |",
        "| plain | 1 | 70.00% | 70.00% (1) |  |  |"), table)
    } finally TestData.deleteRecursively(root)
  }

  test("--reach gives the first round (or simulated time) at which accuracy reaches a target; --plot draws the curves") {
    val root = Files.createTempDirectory("fedspark-results-")
    try {
      val timed = "round,clients,samples,train_loss,test_loss,test_accuracy,seconds,simulated_time\n" +
        "1,10,600,0.5,0.5,0.5,1.0,12.5\n2,10,600,0.5,0.5,0.82,1.0,30.25\n3,10,600,0.5,0.5,0.79,1.0,41\n"
      val dir = folder(root, "async", "fedbuff.csv" -> timed, "slow.csv" -> timed.replace("0.82", "0.7"))
      val byTime = ResultsTable.table(List(dir.toFile).asJava, List().asJava, List().asJava, 0.8, "simulated_time")
      assert(byTime.linesIterator.toList.drop(2) == List("| fedbuff | 3 | 79.00% | 82.00% (2) | 30.25 |",
        "| slow | 3 | 79.00% | 79.00% (3) | not reached |"), byTime)
      assert(ResultsTable.table(List(dir.toFile).asJava, List().asJava, List().asJava, 0.8, "round").contains("| 2 |"))
      val png = root.resolve("curves.png").toFile
      ResultsTable.plot(List(dir.toFile).asJava, "simulated_time", png)
      assert(javax.imageio.ImageIO.read(png).getWidth == 800)
      val missing = intercept[BadInputException](ResultsTable.table(List(dir.toFile).asJava, List().asJava, List().asJava, 0.8, "epsilon"))
      assert(missing.getMessage.contains("no column 'epsilon'"))
    } finally TestData.deleteRecursively(root)
  }

  test("--pivot: a row per run name, a column per folder, final accuracy in each cell") {
    val root = Files.createTempDirectory("fedspark-results-")
    try {
      val none = folder(root, "none", "mean.csv" -> metrics(0.8, 0.875), "median.csv" -> metrics(0.86))
      val flip = folder(root, "sign-flip", "mean.csv" -> metrics(0.5, 0.25))
      assert(ResultsTable.pivot(List(none.toFile, flip.toFile).asJava).linesIterator.toList == List(
        "| run | none | sign-flip |", "|---|---|---|", "| mean | 87.50% | 25.00% |", "| median | 86.00% |  |"))
    } finally TestData.deleteRecursively(root)
  }

  test("every table the docs give with its `bin/fedspark results` command is that command's output over the committed CSVs") {
    val root = Iterator.iterate(new java.io.File(".").getCanonicalFile)(_.getParentFile).find(d => new java.io.File(d, "results").isDirectory).get
    val command = """^`?(?:bin/fedspark results)\s+([^`#]*?)\s*`?:?\s*$""".r
    val docs = Option(new java.io.File(root, "docs").listFiles()).getOrElse(Array()).filter(_.getName.endsWith(".md"))
    var checked = 0
    for (doc <- docs; text = Files.readString(doc.toPath); line <- text.replace("\\\n", " ").linesIterator) line.trim match {
      case command(arguments) =>
        val args = arguments.split("\\s+").toList
        val withoutPlot = args.zipWithIndex.filterNot { case (a, i) => a == "--plot" || (i > 0 && args(i - 1) == "--plot") }.map(_._1)
        val options = new ResultsTable()
        new picocli.CommandLine(options).parseArgs(withoutPlot: _*)
        val dirs = options.dirs.asScala.map(d => new java.io.File(root, d.getPath)).asJava
        val table = if (options.pivot) ResultsTable.pivot(dirs) else ResultsTable.table(dirs, options.last, options.mean, options.reach, options.x)
        assert(text.contains(table), s"${doc.getName}: the table of `bin/fedspark results $arguments` is not its output:\n$table")
        checked += 1
      case _ =>
    }
    assert(checked >= 10, s"only $checked commands found in ${root}/docs")
  }
}
