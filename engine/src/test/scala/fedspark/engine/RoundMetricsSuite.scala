package fedspark.engine

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite

/** A metrics row: each value under its header, and the progress line. */
class RoundMetricsSuite extends AnyFunSuite {

  test("the CSV row puts each value under its header, a strategy's columns last in their order; progress leaves out NaN columns") {
    val extra = new java.util.LinkedHashMap[String, java.lang.Double]()
    extra.put("tau_effective", 1.5)
    extra.put("client_accuracy_mean", Double.NaN)
    val row = new RoundMetrics(3, 2, 50, 0.25, 0.75, 0.5, 1.0, extra)
    assert(row.csvHeader() == "round,clients,samples,train_loss,test_loss,test_accuracy,seconds,tau_effective,client_accuracy_mean")
    assert(row.csv() == "3,2,50,0.250000,0.750000,0.5000,1.000,1.50000,NaN")
    assert(row.progress(9) == "round 3/9  clients 2  samples 50  train loss 0.2500  test loss 0.7500  test acc 0.5000  1.00 s  tau_effective 1.500")
    assert(row.extra().asScala.keys.toSeq == Seq("tau_effective", "client_accuracy_mean"))
  }
}
