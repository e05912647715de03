package fedspark.jobs

import java.nio.file.Files
import java.util.concurrent.TimeUnit

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.jobs.ClusterRuns.{launcher, startProcess}

/** bin/fedspark itself, as a user starts it: its own JVM, its class archive, its output. */
class LauncherSuite extends AnyFunSuite with CommandLineFixture {

  /** Runs bin/fedspark with `args`; returns its exit code and everything it printed. */
  private def launch(name: String, args: String*): (Int, String) = {
    val log = scratch.resolve(name + ".log")
    val process = startProcess(launcher +: args, log, Map())
    assert(process.waitFor(300, TimeUnit.SECONDS), s"bin/fedspark ${args.mkString(" ")} did not end in 5 minutes")
    (process.exitValue(), Files.readString(log))
  }

  test("a run that goes well prints no stack trace and no error, also when started with the class archive", Packaged) {
    val conf = experiment("clean", "").getPath
    // The first train after a build writes the class archive; the runs after it start from it, where the start-up
    // race this guards against (log4j set up on two threads, its JMX bean registered twice) showed in half the runs.
    val runs = launch("train", "train", conf) +: (1 to 4).map(i => launch(s"partition-$i", "partition", conf))
    for (((code, output), i) <- runs.zipWithIndex) {
      assert(code == 0, s"run $i exited with $code:\n$output")
      val noise = output.linesIterator.filter(l => l.startsWith("\tat ") || l.contains(" ERROR ") || l.startsWith("ERROR")).toList
      assert(noise.isEmpty, s"run $i printed:\n${noise.take(5).mkString("\n")}\n$output")
    }
  }

  test("a jar of the class path newer than the class archive (one module rebuilt): the next train writes the archive again", Packaged) {
    val conf = experiment("rebuilt", "").getPath
    val archive = ClusterRuns.repo.resolve("jobs/target/fedspark-classes.jsa")
    val (first, firstOutput) = launch("before-rebuild", "train", conf) // writes the archive unless it is current
    assert(first == 0, firstOutput)
    // The engine module's jar as the launcher's class path has it (the module's target folder in a reactor build)
    val module = java.nio.file.Paths.get(Files.readString(ClusterRuns.repo.resolve("jobs/target/classpath.txt")).strip()
      .split(java.io.File.pathSeparator).find(_.contains("fedspark-engine")).get)
    val later = Files.getLastModifiedTime(archive).toMillis + 2000
    Files.setLastModifiedTime(module, java.nio.file.attribute.FileTime.fromMillis(later))
    val (second, secondOutput) = launch("after-rebuild", "train", conf)
    assert(second == 0, secondOutput)
    assert(Files.getLastModifiedTime(archive).toMillis > later, s"the archive was not written again after $module changed")
  }

  test("a train stopped by bad input leaves the class archive as it was; the next good train writes it", Packaged) {
    val conf = experiment("mistyped", "").getPath
    val archive = ClusterRuns.repo.resolve("jobs/target/fedspark-classes.jsa")
    val (first, firstOutput) = launch("before-mistyped", "train", conf)
    assert(first == 0, firstOutput)
    val module = java.nio.file.Paths.get(Files.readString(ClusterRuns.repo.resolve("jobs/target/classpath.txt")).strip()
      .split(java.io.File.pathSeparator).find(_.contains("fedspark-engine")).get)
    val stale = Files.getLastModifiedTime(archive).toMillis
    Files.setLastModifiedTime(module, java.nio.file.attribute.FileTime.fromMillis(stale + 2000)) // the archive is stale now
    // Such a run loads a few classes only: its archive would slow every later start.
    val (mistyped, mistypedOutput) = launch("mistyped", "train", conf, "--set", "train.no-such-setting=1")
    assert(mistyped != 0 && mistypedOutput.contains("no-such-setting"), mistypedOutput)
    assert(Files.getLastModifiedTime(archive).toMillis == stale, "a run that failed wrote the class archive")
    val (good, goodOutput) = launch("after-mistyped", "train", conf)
    assert(good == 0, goodOutput)
    assert(Files.getLastModifiedTime(archive).toMillis > stale + 2000, "the good run after it did not write the archive")
  }
}
