package fedspark.jobs

import java.io.File
import java.nio.file.{Files, Paths}
import java.util.concurrent.TimeUnit

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite


/** The report page, written by the command and opened in headless Chromium (Debian's package, which .ci/run installs). */
class ReportSuite extends AnyFunSuite with CommandLineFixture {

  /** Headless Chromium on a file: URL: the DOM it rendered and what it logged (console messages among it). */
  private def chromium(page: File): (String, String) = {
    val log = scratch.resolve(s"chromium-${page.getName}.log").toFile
    val process = new ProcessBuilder("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      s"--user-data-dir=${scratch.resolve("chromium-profile")}", "--enable-logging=stderr", "--v=0", "--dump-dom",
      page.toURI.toString).redirectError(log).start()
    val dom = new String(process.getInputStream.readAllBytes())
    assert(process.waitFor(120, TimeUnit.SECONDS), "chromium did not finish")
    (dom, Files.readString(log.toPath))
  }

  private def consoleMessages(log: String): Seq[String] = log.linesIterator.filter(_.contains(":CONSOLE")).toSeq

  test("a run's report: its numbers, curves and audit, self-contained; it renders in Chromium without console messages") {
    val run = s"$scratch/runs/one"
    assert(fedspark("train", experiment("one", "train { E = 1, privacy { mode = central, noise-multiplier = 0.5, audit.canaries = 4 } }").getPath,
      "--run-dir", run)._1 == 0)
    assert(new File(run, "accuracy.png").length > 1000, "training writes the accuracy curve")
    val (code, errors) = fedspark("report", run)
    assert(code == 0, errors)
    val page = new File(run, "report.html")
    val html = Files.readString(page.toPath)
    val rows = Files.readAllLines(Paths.get(run, "metrics.csv")).asScala
    val header = rows.head.split(",")
    val last = rows.last.split(",")
    val accuracy = "%.2f%%".format(100 * last(header.indexOf("test_accuracy")).toDouble)
    val epsilon = "%.4g".format(last(header.indexOf("epsilon")).toDouble)
    assert(html.contains(accuracy) && html.contains(epsilon) && html.contains("<svg") && html.contains("raw-data-bytes-between-executors"))
    for (estimate <- Seq("epsilon_est", "epsilon_est_all")) { // the canary audit's estimates beside the accountant's epsilon
      assert(html.contains(estimate.replace('_', ' ') + " (last round)") && html.contains("%.4g".format(last(header.indexOf(estimate)).toDouble)))
    }
    assert(html.contains("data:image/png;base64,"), "the partition heatmap is embedded")
    assert(!html.contains("<script") && !"(src|href)=\"http".r.findFirstIn(html).isDefined, "nothing to fetch, nothing to run")

    val (dom, log) = chromium(page)
    assert(dom.contains(accuracy) && dom.contains("test accuracy") && dom.contains("Resolved configuration"), dom.take(500))
    assert(consoleMessages(log).isEmpty, consoleMessages(log))
    // the check can fail: a page that logs to the console is caught
    val noisy = scratch.resolve("noisy.html").toFile
    Files.writeString(noisy.toPath, "<html><body><script>console.error('broken page')</script>ok</body></html>")
    assert(consoleMessages(chromium(noisy)._2).exists(_.contains("broken page")))
  }

  test("a run whose clients keep local test sets: the report shows their accuracy distribution, global and personalized") {
    val run = s"$scratch/runs/personal"
    val conf = experiment("personal", "partition { scheme = dirichlet, beta = 0.3, local-test-fraction = 0.2 }, train { rounds = 2, algorithm = fedavg-ft }")
    assert(fedspark("train", conf.getPath, "--run-dir", run)._1 == 0)
    assert(fedspark("report", run)._1 == 0)
    val html = Files.readString(Paths.get(run, "report.html"))
    val rows = Files.readAllLines(Paths.get(run, "metrics.csv")).asScala
    val header = rows.head.split(",")
    def last(column: String) = "%.4f".format(rows.last.split(",")(header.indexOf(column)).toDouble)
    assert(html.contains("per-client accuracy, personal") && html.contains(s"<td>${last("client_accuracy_mean")}</td>")
      && html.contains(s"<td>${last("personal_accuracy_worst10")}</td>"), html.take(300))
    val (dom, log) = chromium(new File(run, "report.html"))
    assert(dom.contains("personalized") && dom.contains("round 2, 6 clients"))
    assert(consoleMessages(log).isEmpty, consoleMessages(log))
  }

  test("a sweep's report has every run; a folder without runs is refused in one line") {
    val sweep = scratch.resolve("sweep")
    for (name <- Seq("a", "b")) {
      assert(fedspark("train", experiment(s"sweep-$name", s"train.seed = ${name.head.toInt}").getPath, "--run-dir", s"$sweep/$name")._1 == 0)
    }
    assert(fedspark("report", sweep.toString, "--out", s"$scratch/sweep.html")._1 == 0)
    val html = Files.readString(Paths.get(s"$scratch/sweep.html"))
    assert(html.contains(">a<") && html.contains(">b<") && html.contains("2 runs"))
    assert(new File(s"$sweep/b/accuracy.png").isFile)
    val (code, errors) = fedspark("report", scratch.resolve("idx").toString)
    assert(code == 2 && errors.contains("no run in") && errors.linesIterator.size == 1, errors)
  }
}
