package fedspark.engine

import org.scalatest.funsuite.AnyFunSuite

/** How a round's sampled clients become tasks. */
class ClientGroupsSuite extends AnyFunSuite {

  private def groups(sampled: Seq[Int], location: Int => String, examples: Int => Long, slots: Int) =
    ClientGroups.of(sampled.toArray, (c: Int) => location(c), (c: Int) => examples(c), slots)

  test("every sampled client in exactly one task, a task's clients all on its executor, at most slots tasks per executor") {
    val sampled = Seq(17, 3, 42, 8, 99, 5, 61, 23, 70)
    val location = (c: Int) => if (c % 3 == 0) "executor_h1_1" else if (c % 3 == 1) "executor_h2_2" else "executor_h2_3"
    val g = groups(sampled, location, _ => 100L, 2)
    assert(g.clients.flatten.sorted.toSeq == sampled.sorted)
    for (t <- 0 until g.tasks) {
      assert(g.clients()(t).nonEmpty && g.clients()(t).forall(c => location(c) == g.locations()(t)))
      assert(g.clients()(t).toSeq == g.clients()(t).sorted.toSeq)
    }
    assert(g.locations.groupBy(identity).values.forall(_.length <= 2))
    assert(g.tasks == 6)
  }

  test("an executor's clients are split into groups of about equal examples, largest first") {
    // 10 clients of 1000, 900, ..., 100 examples: two groups of 2800 and 2700 (LPT), not 3000 and 2500 (round robin)
    val sampled = 0 until 10
    val g = groups(sampled, _ => "executor_h_1", c => 1000L - 100 * c, 2)
    val loads = g.clients.map(_.map(c => 1000L - 100 * c).sum).sorted
    assert(loads.toSeq == Seq(2700L, 2800L))
    // unknown sizes (0) fall back to equal counts
    val even = groups(sampled, _ => "executor_h_1", _ => 0L, 3)
    assert(even.clients.map(_.length).sorted.toSeq == Seq(3, 3, 4))
  }

  test("fewer clients than slots: one client per task; no location: one pool") {
    val g = groups(Seq(4, 1), _ => null, _ => 5L, 8)
    assert(g.tasks == 2 && g.locations.forall(_ == null))
    assert(g.describe == "4,1" || g.describe == "1,4")
    intercept[IllegalArgumentException](groups(Seq(1), _ => null, _ => 1L, 0))
  }

  test("the preload's tasks (a file's contiguous clients each): a few characters of job property for a million clients") {
    val million = new ClientGroups((0 until 16).map(f => (f * 62500 until (f + 1) * 62500).toArray).toArray, new Array[String](16))
    assert(million.describe.length < 300, million.describe)
    assert(million.describe.startsWith("0-62499,62500-124999"))
    // what the audit reads back: runs and single clients mixed, empty groups kept in place
    for (g <- Seq(million, groups(Seq(17, 3, 42, 8, 4, 5, 6, 61), _ => null, _ => 1L, 2), new ClientGroups(Array(Array(2), Array[Int](), Array(7, 8)), Array(null, null, null)))) {
      assert(ClientGroups.parse(g.describe).map(_.toSeq).toSeq == g.clients.map(_.toSeq).toSeq, g.describe)
    }
  }
}
