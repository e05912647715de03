package fedspark.partition.stats

import org.scalatest.funsuite.AnyFunSuite

/** A partitioning's summary and the heatmap's rows, on hand-made label counts (no Spark). */
class StatisticsSuite extends AnyFunSuite {

  test("the summary: mean entropy and mean distance over the clients that hold examples; the median size the upper middle") {
    // entropies 1, 0, (empty), 0: the empty client counts in no mean
    val stats = new PartitionStatistics(Array(Array(5L, 5L), Array(10L, 0L), Array(0L, 0L), Array(0L, 20L)))
    val summary = stats.summary()
    assert(math.abs(summary.meanEntropy - 1.0 / 3) < 1e-12, summary.line())
    assert(summary.clients == 4 && summary.examples == 40 && summary.emptyClients == 1)
    val four = new PartitionStatistics(Array(Array(3L), Array(1L), Array(4L), Array(2L))).summary()
    assert(four.minSize == 1 && four.medianSize == 3 && four.maxSize == 4, four.line())
    val five = new PartitionStatistics(Array(Array(3L), Array(1L), Array(4L), Array(2L), Array(9L))).summary()
    assert(five.medianSize == 3, five.line())
  }

  test("heatmap rows: clients ordered by their largest label, then its share; at most 200 rows, each the mean of its clients") {
    // client 2's shares tie: its largest label is the first, label 0, below client 0's whole share of label 0
    val rows = PartitionPlots.heatmapRows(new PartitionStatistics(Array(Array(10L, 0L), Array(0L, 10L), Array(5L, 5L))))
    assert(rows.map(_.toSeq).toSeq == Seq(Seq(1.0, 0.0), Seq(0.5, 0.5), Seq(0.0, 1.0)))
    // 400 clients, client k all label k mod 4: two clients of the same label a row, 50 rows a label in label order
    val many = PartitionPlots.heatmapRows(new PartitionStatistics(Array.tabulate(400, 4)((k, c) => if (k % 4 == c) 1L + k else 0L)))
    assert(many.length == 200)
    for ((row, r) <- many.zipWithIndex) assert(row.toSeq == Seq.tabulate(4)(c => if (c == r / 50) 1.0 else 0.0), s"row $r")
    // 300 clients over 200 rows: rows of one and of two clients, shares averaged within a row
    val binned = PartitionPlots.heatmapRows(new PartitionStatistics(Array.tabulate(300, 2)((k, c) => if (c == 0) 300L - k else k.toLong)))
    assert(binned.length == 200)
    for (row <- binned) assert(math.abs(row.sum - 1) < 1e-12)
    val shares = (0 until 300).map(k => (300.0 - k) / 300)
    assert(binned(0)(0) == shares(0) && math.abs(binned(1)(0) - (shares(1) + shares(2)) / 2) < 1e-12, binned.take(2).map(_.toSeq).toSeq)
  }
}
