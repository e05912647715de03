package fedspark.engine.evaluation

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite

/** The fairness columns on hand-made scores (no Spark). */
class FairnessSuite extends AnyFunSuite {

  private def score(client: Int, accuracy: Double, personal: Double) = new ClientScore(1, client, 10, 5, 0.5, accuracy, 0.4, personal)

  test("over 11 clients: the mean, the worst and best 10% as ceil(1.1) = 2 clients each, the population standard deviation") {
    // accuracies 0.0, 0.1, ..., 1.0 in a shuffled order; personal accuracies 1 - accuracy squared (another set)
    val accuracies = Seq(3, 9, 0, 10, 5, 1, 7, 2, 8, 4, 6).map(_ / 10.0)
    val raw = Fairness.columns(accuracies.zipWithIndex.map { case (a, k) => score(k, a, 1 - a * a) }.asJava)
    val columns = raw.asScala.map { case (k, v) => k -> v.doubleValue }.toMap
    def near(name: String, expected: Double) = assert(math.abs(columns(name) - expected) < 1e-12, s"$name ${columns(name)}, expected $expected")
    near("client_accuracy_mean", 0.5)
    near("client_accuracy_worst10", 0.05)
    near("client_accuracy_best10", 0.95)
    near("client_accuracy_std", math.sqrt(0.1)) // sum of squared deviations 1.1, over 11 clients
    val personal = accuracies.map(a => 1 - a * a).sorted
    val mean = personal.sum / 11
    near("personal_accuracy_mean", mean)
    near("personal_accuracy_worst10", (personal(0) + personal(1)) / 2)
    near("personal_accuracy_best10", (personal(9) + personal(10)) / 2)
    near("personal_accuracy_std", math.sqrt(personal.map(p => (p - mean) * (p - mean)).sum / 11))
    assert(raw.keySet.asScala.toSeq == Seq("client_accuracy_mean", "client_accuracy_worst10", "client_accuracy_best10", "client_accuracy_std",
      "personal_accuracy_mean", "personal_accuracy_worst10", "personal_accuracy_best10", "personal_accuracy_std"))
  }

  test("tails of at least one client; one client's standard deviation 0; no evaluation this round: NaN throughout") {
    val three = Fairness.columns(Seq(score(0, 0.2, 0.2), score(1, 0.6, 0.6), score(2, 0.7, 0.7)).asJava).asScala
    assert(three("client_accuracy_worst10") == 0.2 && three("client_accuracy_best10") == 0.7)
    val one = Fairness.columns(Seq(score(0, 0.3, 0.8)).asJava).asScala
    assert(one("client_accuracy_std") == 0.0 && one("personal_accuracy_best10") == 0.8)
    assert(Fairness.columns(null).asScala.values.forall(_.isNaN))
  }
}
