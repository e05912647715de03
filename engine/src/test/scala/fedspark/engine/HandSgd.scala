package fedspark.engine

import fedspark.data.ClientShard
import fedspark.engine.local.LocalBatches

/**
 * A client's local SGD on logistic regression (the logreg model: W 'f'-ordered [d, classes], element (i, j) at
 * i + d j, then b), computed by hand in double with PyTorch's conventions, independently of the engine:
 * g' = g + wd w + mu (w - anchor); v = rho v + g'; w -= lr v (or g'); w -= lr correction.
 */
object HandSgd {
  case class Rule(lr: Double, momentum: Double = 0, weightDecay: Double = 0, proximalMu: Double = 0,
                  anchor: Array[Double] = null, correction: Array[Double] = null)

  /** E epochs of batches of `batch` in the engine's seeded order for (seed, round, client); returns (w, steps). */
  def train(data: ClientShard, start: Array[Double], classes: Int, epochs: Int, batch: Int, seed: Long, round: Int,
            rule: Rule): (Array[Double], Int) = {
    val (w, steps, _) = trainWithLoss(data, start, classes, epochs, batch, seed, round, rule)
    (w, steps)
  }

  /** As train, also returning the training loss: each step's batch mean cross-entropy before the step times the batch size, summed. */
  def trainWithLoss(data: ClientShard, start: Array[Double], classes: Int, epochs: Int, batch: Int, seed: Long, round: Int,
                    rule: Rule): (Array[Double], Int, Double) = {
    val d = data.featureSize
    val n = data.size
    val w = start.clone()
    val v = new Array[Double](w.length)
    var steps = 0
    var lossSum = 0.0
    for (epoch <- 0 until epochs; picks <- LocalBatches.order(n, seed, round, data.client, epoch).grouped(math.min(batch, n))) {
      val g = new Array[Double](w.length)
      for (e <- picks) {
        val z = Array.tabulate(classes)(j => (0 until d).map(i => data.features()(e * d + i) * w(i + d * j)).sum + w(d * classes + j))
        val m = z.max
        val exp = z.map(x => math.exp(x - m))
        val p = exp.map(_ / exp.sum)
        lossSum -= math.log(p(data.labels()(e)))
        for (j <- 0 until classes) {
          val delta = (p(j) - (if (data.labels()(e) == j) 1 else 0)) / picks.length
          for (i <- 0 until d) g(i + d * j) += data.features()(e * d + i) * delta
          g(d * classes + j) += delta
        }
      }
      for (k <- w.indices) {
        var gk = g(k) + rule.weightDecay * w(k)
        if (rule.proximalMu != 0) gk += rule.proximalMu * (w(k) - rule.anchor(k))
        if (rule.momentum != 0) {
          v(k) = rule.momentum * v(k) + gk
          gk = v(k)
        }
        w(k) -= rule.lr * gk
        if (rule.correction != null) w(k) -= rule.lr * rule.correction(k)
      }
      steps += 1
    }
    (w, steps, lossSum)
  }

  def maxDifference(a: Array[Float], b: Array[Double]): Double = a.indices.map(k => math.abs(a(k) - b(k))).max
}
