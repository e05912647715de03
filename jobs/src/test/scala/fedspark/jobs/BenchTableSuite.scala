package fedspark.jobs

import java.io.{ByteArrayOutputStream, PrintStream}

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.models.{InputShape, Models, TrainingFlops}

/** bench's work columns and peak line as arithmetic on given rows (nothing timed), and `fedspark peak` on small matrices. */
class BenchTableSuite extends AnyFunSuite {

  private val twoNN = TrainingFlops.of(Models.builtIn("mcmahan-2nn"), InputShape.MNIST, 10) // 879,200 FLOP an example
  private val ours = new Bench.Result("fedspark", 0.5, 0.97, 20, 30.0, 6000)
  private val theirs = new Bench.Result("peer (PyTorch, 1 process)", 0.25, 0.96, 20, 12.0, 6000)
  private val peak = new Peak.Measured(Peak.Kernel.OPENBLAS, "Haswell", 2, 1024, 100L, 200.0)

  test("MFLOP a round is the median round's examples x E x FLOP an example; GFLOP/s that over the median s/round; the peak line their fractions") {
    assert(twoNN.perExample == 879200L)
    // 6,000 examples x E = 5 x 879,200 = 26,376 MFLOP: 52.75 GFLOP/s in 0.5 s, 105.50 in 0.25 s; 26.4% and 52.8% of 200
    assert(Bench.roundFlops(ours, twoNN, 5) == 6000.0 * 5 * 879200)
    val lines = Bench.table(Seq(ours, theirs).asJava, theirs, twoNN, 5, peak, null, 1).asScala
    assert(lines.head.split(" +").toSeq.takeRight(2) == Seq("MFLOP/round", "GFLOP/s"), lines.head)
    assert(lines(1).split(" +").toSeq == Seq("fedspark", "0.500", "0.9700", "20", "30.0", "26376.0", "52.75"), lines(1))
    assert(lines(2).endsWith(" 0.250         0.9600      20         12.0      26376.0    105.50"), lines(2))
    assert(lines(3) == "ratio fedspark/peer: 2.00 per round, 2.50 whole experiment")
    assert(lines(4) == "work: 0.879 MFLOP a training example (forward, weight and input gradients of the dense, convolution and LSTM products), E=5")
    assert(lines(5) == "fp32 peak 200.0 GFLOP/s (OpenBLAS sgemm, 2 threads): fedspark 26.4%, peer (PyTorch, 1 process) 52.8% of it"
      + " (the peer runs 1 torch thread(s))", lines(5))
    // with one thread's peak measured (oneDNN, 150 GFLOP/s): the peer's 105.50 is 70.3% of it
    val onePeak = new Peak.Measured(Peak.Kernel.ONEDNN, "avx512_core", 1, 1024, 70L, 150.0)
    assert(Bench.table(Seq(ours, theirs).asJava, theirs, twoNN, 5, peak, onePeak, 1).asScala.last
      == "fp32 peak 200.0 GFLOP/s (OpenBLAS sgemm, 2 threads): fedspark 26.4%, peer (PyTorch, 1 process) 52.8% of it;"
      + " the peer runs 1 thread: 70.3% of one thread's peak, 150.0 GFLOP/s (oneDNN sgemm)")
  }

  test("a system that does not say its examples, or a model whose work is not counted, shows - and the reason, no guess") {
    val silent = new Bench.Result("dl4j-spark, C=1", 2.0, 0.9, 2, 40.0, Double.NaN)
    val lines = Bench.table(Seq(ours, silent, theirs).asJava, theirs, twoNN, 1, peak, null, 1).asScala
    assert(lines(2).split(" +").toSeq.takeRight(2) == Seq("-", "-"), lines(2))
    val uncounted = new TrainingFlops(0, 0, "layer 1 (SimpleRnn) is of a kind not counted")
    val refused = Bench.table(Seq(ours, theirs).asJava, theirs, uncounted, 1, peak, null, 1).asScala
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
}
