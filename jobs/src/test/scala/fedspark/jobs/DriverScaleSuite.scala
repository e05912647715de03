package fedspark.jobs

import java.io.{ByteArrayOutputStream, PrintStream}

import org.scalatest.funsuite.AnyFunSuite

/** `fedspark driver-scale` at a size a test affords: the driver's rounds run at both K, and the index's heap is counted. */
class DriverScaleSuite extends AnyFunSuite {

  test("driver-scale runs the driver's rounds at both K and counts the heap the larger index takes") {
    val out = new ByteArrayOutputStream()
    val saved = System.out
    System.setOut(new PrintStream(out, true, "UTF-8"))
    val code = try FedSpark.commandLine().execute("driver-scale", "--clients", "200000", "--small", "1000", "--files", "20",
      "--sampled", "10", "--rounds", "3")
    finally System.setOut(saved)
    val text = out.toString("UTF-8")
    assert(code == 0, text)
    assert(text.contains("K=200,000, 10 sampled a round, 3 rounds: median "), text)
    val more = "([0-9.]+) MB more live heap with the index".r.findFirstMatchIn(text).map(_.group(1).toDouble)
    // 199,000 clients more, 24 bytes each in the index and placement arrays: 4.8 MB (GC noise aside)
    assert(more.exists(mb => mb > 3.5 && mb < 12), text)
  }
}
