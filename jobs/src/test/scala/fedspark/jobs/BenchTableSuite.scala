package fedspark.jobs

import java.io.{ByteArrayOutputStream, PrintStream}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.models.{InputShape, Models, TrainingFlops}

/** bench's work columns and peak line as arithmetic on given rows (nothing timed), and `fedspark peak` on small matrices. */
class BenchTableSuite extends AnyFunSuite {

  private val twoNN = TrainingFlops.of(Models.builtIn("mcmahan-2nn"), InputShape.MNIST, 10) // 879,200 FLOP an example
  private val ours = new Bench.Result("fedspark", 0.5, 0.97, 20, 30.0, 6000, 10.5) // 19.5 s outside its rounds
  private val theirs = new Bench.Result("peer, 1 thread", 0.25, 0.96, 20, 12.0, 6000, 5.0)
  private val peak = new Peak.Measured(Peak.Kernel.OPENBLAS, "Haswell", 2, 1024, 100L, 200.0)

  test("the peak the fractions are of is the faster kernel's") {
    val oneDnn = new Peak.Measured(Peak.Kernel.ONEDNN, "avx512_core", 2, 1024, 200L, 400.0)
    assert(Peak.best(java.util.List.of(peak, oneDnn)) eq oneDnn)
    assert(Peak.best(java.util.List.of(oneDnn, peak)) eq oneDnn)
  }

  test("the peak is the higher of the measurements before and after fedspark's rounds, whichever kernel reached it") {
    def at(kernel: Peak.Kernel, gflops: Double) = new Peak.Measured(kernel, "k", 2, 1024, 100L, gflops)
    val (openBlasBefore, oneDnnBefore) = (at(Peak.Kernel.OPENBLAS, 440.0), at(Peak.Kernel.ONEDNN, 470.0))
    val (openBlasAfter, oneDnnAfter) = (at(Peak.Kernel.OPENBLAS, 450.0), at(Peak.Kernel.ONEDNN, 495.0))
    assert(Peak.best(java.util.List.of(openBlasBefore, oneDnnBefore), java.util.List.of(openBlasAfter, oneDnnAfter)) eq oneDnnAfter)
    assert(Peak.best(java.util.List.of(openBlasAfter, oneDnnAfter), java.util.List.of(openBlasBefore, oneDnnBefore)) eq oneDnnAfter)
    assert(Peak.best(java.util.Collections.singletonList(oneDnnBefore), java.util.Collections.emptyList[Peak.Measured]()) eq oneDnnBefore)
  }

  test("MFLOP a round is the median round's examples x E x FLOP an example; GFLOP/s that over the median s/round; the peak line their fractions") {
    assert(twoNN.perExample == 879200L)
    // 6,000 examples x E = 5 x 879,200 = 26,376 MFLOP: 52.75 GFLOP/s in 0.5 s, 105.50 in 0.25 s; 26.4% and 52.8% of 200
    assert(Bench.roundFlops(ours, twoNN, 5) == 6000.0 * 5 * 879200)
    val lines = Bench.table(Seq(ours, theirs).asJava, Seq(theirs).asJava, twoNN, 5, peak, null).asScala
    assert(lines.head.split(" +").toSeq.takeRight(2) == Seq("MFLOP/round", "GFLOP/s"), lines.head)
    assert(lines.head.split(" +").toSeq.slice(4, 9) == Seq("rounds", "wall", "s", "outside", "s"), lines.head)
    assert(lines(1).split(" +").toSeq == Seq("fedspark", "0.500", "0.9700", "20", "30.0", "19.5", "26376.0", "52.75"), lines(1))
    assert(lines(2).endsWith(" 0.250         0.9600      20      12.0        7.0      26376.0    105.50"), lines(2))
    assert(lines(3) == "ratio fedspark/fastest peer: 2.00 per round (peer, 1 thread), 2.50 whole experiment (peer, 1 thread)")
    assert(lines(4) == "work: 0.879 MFLOP a training example (forward, weight and input gradients of the dense, convolution and LSTM products), E=5")
    assert(lines(5) == "fp32 peak 200.0 GFLOP/s (OpenBLAS sgemm, 2 threads): fedspark 26.4%, peer, 1 thread 52.8% of it", lines(5))
    // with one thread's peak measured (oneDNN, 150 GFLOP/s): the peer's 105.50 is 70.3% of it
    val onePeak = new Peak.Measured(Peak.Kernel.ONEDNN, "avx512_core", 1, 1024, 70L, 150.0)
    assert(Bench.table(Seq(ours, theirs).asJava, Seq(theirs).asJava, twoNN, 5, peak, onePeak).asScala.last
      == "fp32 peak 200.0 GFLOP/s (OpenBLAS sgemm, 2 threads): fedspark 26.4%, peer, 1 thread 52.8% of it;"
      + " peer, 1 thread: 70.3% of one thread's peak, 150.0 GFLOP/s (oneDNN sgemm)")
  }

  test("the ratio is against the fastest peer setting: by seconds a round, and by wall time, each naming the setting") {
    val threads = new Bench.Result("peer, 2 threads", 0.30, 0.96, 20, 10.0, 6000, 6.0)
    val processes = new Bench.Result("peer, 2 processes", 0.20, 0.96, 20, 14.0, 6000, 4.0)
    val peers = Seq(theirs, threads, processes)
    val lines = Bench.table((ours +: peers).asJava, peers.asJava, twoNN, 5, peak, null).asScala
    assert(lines.count(_.startsWith("peer, ")) == 3, lines)
    // 0.5 / 0.20 a round (the processes), 30.0 / 10.0 whole (the threads)
    assert(lines(5) == "ratio fedspark/fastest peer: 2.50 per round (peer, 2 processes), 3.00 whole experiment (peer, 2 threads)", lines(5))
    // 26,376 MFLOP in 0.30 s and 0.20 s: 87.92 and 131.88 GFLOP/s, 44.0% and 65.9% of 200
    assert(lines.last == "fp32 peak 200.0 GFLOP/s (OpenBLAS sgemm, 2 threads): fedspark 26.4%, peer, 1 thread 52.8%,"
      + " peer, 2 threads 44.0%, peer, 2 processes 65.9% of it", lines.last)
  }

  test("bench takes the peer settings by name and refuses others") {
    val bench = new Bench()
    picocli.CommandLine.populateCommand(bench, "--peer-settings", "processes,one-thread", "conf/quickstart.conf")
    assert(bench.peerSettings.asScala == Seq(Bench.PeerSetting.PROCESSES, Bench.PeerSetting.ONE_THREAD))
    assert(Bench.PeerSetting.PROCESSES.arguments(2).asScala == Seq("--threads", "1", "--processes", "2"))
    assert(Bench.PeerSetting.THREADS.arguments(2).asScala == Seq("--threads", "2", "--processes", "1"))
    val refused = intercept[picocli.CommandLine.ParameterException](
      picocli.CommandLine.populateCommand(new Bench(), "--peer-settings", "gpu", "conf/quickstart.conf"))
    assert(refused.getMessage.contains("no peer setting gpu (one-thread, threads, processes)"), refused.getMessage)
  }

  test("a system that does not say its examples, or a model whose work is not counted, shows - and the reason, no guess") {
    val silent = new Bench.Result("dl4j-spark, C=1", 2.0, 0.9, 2, 40.0, Double.NaN, 4.0)
    val lines = Bench.table(Seq(ours, silent, theirs).asJava, Seq(theirs).asJava, twoNN, 1, peak, null).asScala
    assert(lines(2).split(" +").toSeq.takeRight(2) == Seq("-", "-"), lines(2))
    val uncounted = new TrainingFlops(0, 0, "layer 1 (SimpleRnn) is of a kind not counted")
    val refused = Bench.table(Seq(ours, theirs).asJava, Seq(theirs).asJava, uncounted, 1, peak, null).asScala
    assert(refused(1).split(" +").toSeq.takeRight(2) == Seq("-", "-"), refused(1))
    assert(refused.last == "GFLOP/s not printed: training work not counted: layer 1 (SimpleRnn) is of a kind not counted")
    assert(!refused.exists(_.contains("fp32 peak")))
  }

  test("fedspark peak prints one line a kernel: OpenBLAS's and oneDNN's sgemm rates on every core") {
    val out = new ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new PrintStream(out, true, "UTF-8"))
    val code = try FedSpark.commandLine().execute("peak", "--size", "128", "--seconds", "0.2", "--threads", "2")
    finally System.setOut(saved)
    val lines = out.toString("UTF-8").linesIterator.filter(_.startsWith("fp32 peak")).toSeq
    assert(code == 0 && lines.size == 2, out.toString("UTF-8"))
    assert(lines(0).matches("fp32 peak, OpenBLAS sgemm \\(\\S+\\), 2 thread\\(s\\), n=128: [0-9.]+ GFLOP/s \\([0-9]+ products\\)"), lines(0))
    assert(lines(1).startsWith("fp32 peak, oneDNN sgemm ("), lines(1))
    val rates = lines.map(l => "n=128: ([0-9.]+) GFLOP/s".r.findFirstMatchIn(l).get.group(1).toDouble)
    assert(rates.forall(_ > 0), lines)
  }

  test("fedspark step prints microseconds a step and GFLOP/s as the model's training work over them; bad options are refused") {
    def run(args: String*): (Int, String) = {
      val out = new ByteArrayOutputStream()
      val saved = System.out
      System.setOut(new PrintStream(out, true, "UTF-8"))
      val code = try FedSpark.commandLine().execute(args: _*) finally System.setOut(saved)
      (code, out.toString("UTF-8"))
    }
    for (step <- Seq("lean", "dl4j")) {
      val (code, out) = run("step", "mcmahan-2nn", "--batch", "20", "--local-step", step, "--seconds", "0.1", "--repetitions", "3")
      val line = out.linesIterator.find(_.startsWith("mcmahan-2nn on 1x28x28, B=20, " + step + " step (")).getOrElse(fail(out))
      assert(code == 0 && line.contains("oneDNN") == (step == "lean"), line)
      val m = """: ([0-9.]+) us a step \(median of 3 x 0.1 s; ([0-9.]+) to ([0-9.]+)\), ([0-9.]+) GFLOP/s \(0.879 MFLOP a training example\)""".r
        .findFirstMatchIn(line).getOrElse(fail(line))
      val Seq(median, low, high, gflops) = (1 to 4).map(m.group(_).toDouble)
      assert(low <= median && median <= high, line)
      // 20 examples of 0.879 MFLOP (printed rounded) in `median` microseconds
      assert(math.abs(gflops - 0.8792 * 20 / median * 1e3) <= 0.05 + gflops * 1e-3, line)
    }
    assert(run("step", "mcmahan-2nn", "--local-step", "gpu")._1 != 0)
    assert(run("step", "mcmahan-2nn", "--shape", "28x28")._1 != 0)
  }
}
