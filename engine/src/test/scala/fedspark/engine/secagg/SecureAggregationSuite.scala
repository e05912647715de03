package fedspark.engine.secagg

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.engine.{TestClients, TestRuns, TrainSettings}
import fedspark.engine.aggregate.WeightedSum
import fedspark.engine.strategy.{ClientResult, RoundInput, Strategy}

/**
 * Secure aggregation's parts and its rounds without Spark (with Spark, from configuration: fedspark.jobs.CommandLineSuite's
 * "privacy: secure aggregation gives plain FedAvg's parameters through Spark's merges" and its top-k-secure resume test).
 */
class SecureAggregationSuite extends AnyFunSuite {
  import TestClients._
  private val NoState = new MemoryState


  private val clients = (0 until 10).map(k => shard(k, 10 + 7 * k, k))
  private def settings = new TrainSettings("logreg", 3, 1.0, 1, 10, 0.05, 4L, "fedavg", 1, TrainSettings.LocalStep.AUTO)
  private def strategy(train: String) =
    TestRuns.strategyWith(settings, spec, clients.map(_.size.toLong).toArray, train).asInstanceOf[Strategy[WeightedSum]]

  /** One round over every client; the next model and the aggregate. */
  private def round(s: Strategy[WeightedSum], number: Int = 1, global: Array[Float] = start): (Array[Float], WeightedSum) = {
    val sampled = s.sample(number, clients.size)
    val input = new RoundInput(number, global, s.shared(number, global), null, s.setup(number, sampled))
    val update = s.clientUpdate()
    val sum = clients.filter(c => sampled.contains(c.client)).foldLeft(s.newAggregate())((a, c) => a.add(update.update(c, input, NoState)))
    (s.serverStep(number, global, sum), sum)
  }

  test("Shamir: any t of n shares give the secret back, t - 1 do not") {
    val random = new java.security.SecureRandom()
    val secret = Array.tabulate[Byte](48)(i => (i * 37 + 1).toByte)
    val shares = Shamir.split(secret, 4, 7, random)
    for (subset <- Seq(Seq(1, 2, 3, 4), Seq(7, 5, 3, 1), Seq(2, 4, 6, 7, 1))) {
      assert(Shamir.combine(subset.map(i => Int.box(i) -> shares(i - 1)).toMap.asJava, 48).sameElements(secret))
    }
    assert(!Shamir.combine(Seq(1, 2, 3).map(i => Int.box(i) -> shares(i - 1)).toMap.asJava, 48).sameElements(secret))
  }

  test("pair masks cancel in the sum modulo 2^64; each masked input looks nothing like its encoding") {
    val aggregation = new SecureAggregation(0, 0.6, 1L)
    val sampled = Array(2, 5, 8, 9)
    val setup = aggregation.setup(3, sampled)
    val random = new scala.util.Random(3)
    val inputs = sampled.map(_ => Array.fill(1000)(random.nextLong() >> 20))
    val masked = sampled.zip(inputs).map { case (c, x) => Masks.mask(x, c, setup) }
    val sum = masked.reduce((a, b) => a.zip(b).map { case (x, y) => x + y })
    val correction = aggregation.unmask(setup, sampled.map(Int.box).toSet.asJava, 1000)
    val plain = inputs.reduce((a, b) => a.zip(b).map { case (x, y) => x + y })
    assert(sum.zip(correction).map { case (s, c) => s - c }.sameElements(plain))
    // a masked input's words are uniform: about half of the top bits set, unlike the small encoded values
    val topBits = masked.head.count(_ < 0)
    assert(topBits > 400 && topBits < 600, topBits)
    assert(masked.head.zip(inputs.head).count { case (m, x) => m == x } == 0)
  }

  test("secure aggregation equals plain aggregation bit for bit, with the model or through the logic layer") {
    val (plain, plainSum) = round(strategy(""))
    val (secure, secureSum) = round(strategy("secure-aggregation.enabled = true"))
    assert(secure.sameElements(plain))
    assert(secureSum.clients == plainSum.clients && secureSum.examples == plainSum.examples && secureSum.meanLoss == plainSum.meanLoss)
    assert(secureSum.bytes == 10L * 8 * (start.length + WeightedSum.ENCODED_EXTRA))
    val layered = "update.transforms = [quantize], update.quantize.bits = 8"
    assert(round(strategy(layered + ", secure-aggregation.enabled = true"))._1.sameElements(round(strategy(layered))._1))
  }

  test("with 10% of clients dropping after masking, the result is plain aggregation of the others, bit for bit") {
    val s = strategy("secure-aggregation { enabled = true, dropout = 0.1 }")
    val results = (1 to 6).map { r =>
      val (next, sum) = round(s, r)
      val delivered = sum.maskedClients().asScala.map(_.intValue).toSet
      val plain = strategy("")
      val update = plain.clientUpdate()
      val input = new RoundInput(r, start, java.util.Map.of(), null)
      val survivors = clients.filter(c => delivered(c.client)).foldLeft(plain.newAggregate())((a, c) => a.add(update.update(c, input, NoState)))
      assert(next.sameElements(plain.serverStep(r, start, survivors)), s"round $r")
      10 - delivered.size
    }
    assert(results.sum > 0, "some client must have dropped in six rounds at 10%")
    assert(s.metrics().get("dropouts") == results.last.toDouble)
  }

  test("what a task with one client sends is not that client's update") {
    val s = strategy("secure-aggregation.enabled = true")
    val sampled = s.sample(1, clients.size)
    val input = new RoundInput(1, start, java.util.Map.of(), null, s.setup(1, sampled))
    val sent = s.clientUpdate().update(clients(3), input, NoState)
    val own = strategy("").clientUpdate().update(clients(3), new RoundInput(1, start, java.util.Map.of(), null), NoState)
    val encoded = WeightedSum.encode(own, start.length, false)
    assert(sent.vector.isEmpty && sent.update == null && sent.examples == 0 && sent.masked != null)
    assert(sent.masked.zip(encoded).count { case (m, x) => m == x } < 3)
    val alone = WeightedSum.empty().add(sent) // the partial sum a task of this client alone hands to Spark
    assert(alone.clients == 0 && alone.examples == 0 && intercept[IllegalStateException](alone.meanModel(start)) != null)
  }

  test("secure aggregation refuses algorithms that send more than their model") {
    val error = intercept[IllegalArgumentException](TestRuns.strategyWith(
      new TrainSettings("logreg", 3, 1.0, 1, 10, 0.05, 4L, "scaffold", 1, TrainSettings.LocalStep.AUTO), spec,
      clients.map(_.size.toLong).toArray, "secure-aggregation.enabled = true"))
    assert(error.getMessage.contains("scaffold"))
  }

  test("Shamir's coefficients cover the whole field: a 2-of-n share of 0 is its coefficient, above 2^520 about half the time") {
    val random = new java.security.SecureRandom()
    val half = java.math.BigInteger.ONE.shiftLeft(520)
    val shares = (1 to 64).map(_ => Shamir.split(new Array[Byte](32), 2, 2, random)(0)) // f(1) = 0 + a_1
    assert(shares.forall(s => s.signum >= 0 && s.compareTo(Shamir.PRIME) < 0))
    val upper = shares.count(_.compareTo(half) >= 0)
    assert(upper >= 16 && upper <= 48, s"$upper of 64 coefficients at or above 2^520")
  }

  test("secure aggregation refuses a round of one client and an unmasking with fewer than max(2, t) deliverers") {
    val secure = new SecureAggregation(0, 0.6, 7L)
    val one = intercept[IllegalArgumentException](secure.setup(1, Array(3)))
    assert(one.getMessage.contains("at least 2") && one.getMessage.contains("round 1"))
    val round = secure.setup(2, Array(0, 1, 2, 3, 4)) // t = 3
    val few = intercept[IllegalStateException](secure.unmask(round, new java.util.HashSet(java.util.Arrays.asList(Int.box(0), Int.box(1))), 4))
    assert(few.getMessage.contains("2 delivering clients") && few.getMessage.contains("t = 3"), few.getMessage)
    val sole = new SecureAggregation(0, 0.6, 7L)
    val pair = sole.setup(3, Array(5, 6)) // t = 2
    assert(intercept[IllegalStateException](sole.unmask(pair, java.util.Collections.singleton(Int.box(5)), 4)).getMessage.contains("1 delivering"))
  }

  test("a mask is keyed by its seed, its round and its label: none repeats, so no two masked inputs share a mask") {
    def mask(seed: Byte, round: Int, label: String): Seq[Long] = {
      val values = new Array[Long](9000) // more than one keystream block of 8,192 words
      Masks.add(values, Array.fill[Byte](32)(seed), round, label, 1)
      values.toSeq
    }
    val base = mask(1, 1, "self")
    assert(base.distinct.size == base.size, "a keystream with repeated words")
    for (other <- Seq(mask(2, 1, "self"), mask(1, 2, "self"), mask(1, 1, "pair"))) {
      assert(other.zip(base).count { case (a, b) => a == b } == 0)
    }
    val twice = new Array[Long](9000)
    Masks.add(twice, Array.fill[Byte](32)(1), 1, "self", 1)
    Masks.add(twice, Array.fill[Byte](32)(1), 1, "self", -1)
    assert(twice.forall(_ == 0), "+mask then -mask leaves nothing")
  }

  test("with every client drawn to drop, exactly m - t drop and the others' shares still rebuild the sum") {
    val secure = new SecureAggregation(0.999, 0.6, 11L)
    val sampled = Array(0, 1, 2, 3, 4, 5, 6, 7, 8, 9) // t = 6
    val round = secure.setup(3, sampled)
    assert(round.dropouts().size == 4 && secure.lastDropouts() == 4)
    val delivered = new java.util.TreeSet[Integer](sampled.filterNot(c => round.dropouts().contains(c)).map(Int.box).toSeq.asJava)
    val encoded = sampled.map(c => Array.tabulate[Long](5)(j => (c * 10 + j).toLong))
    val masked = sampled.filter(c => delivered.contains(c)).map(c => Masks.mask(encoded(c), c, round))
    val sum = new Array[Long](5)
    masked.foreach(m => for (j <- 0 until 5) sum(j) += m(j))
    val correction = secure.unmask(round, delivered, 5)
    val plain = sampled.filter(c => delivered.contains(c)).map(encoded(_)).reduce((a, b) => a.zip(b).map { case (x, y) => x + y })
    assert(sum.zip(correction).map { case (a, b) => a - b }.toSeq == plain.toSeq) // the masked sum minus the rebuilt masks
  }

  test("a mask is AES-256-CTR's keystream under SHA-256(seed, round, label), read as little-endian words, whole blocks included") {
    def keystream(seed: Array[Byte], round: Int, label: String, words: Int): Array[Long] = {
      val sha = java.security.MessageDigest.getInstance("SHA-256")
      val key = sha.digest(seed ++ java.nio.ByteBuffer.allocate(4).putInt(round).array() ++ label.getBytes("UTF-8"))
      val aes = javax.crypto.Cipher.getInstance("AES/CTR/NoPadding")
      aes.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(key, "AES"), new javax.crypto.spec.IvParameterSpec(new Array[Byte](16)))
      val bytes = java.nio.ByteBuffer.wrap(aes.doFinal(new Array[Byte](8 * words))).order(java.nio.ByteOrder.LITTLE_ENDIAN)
      Array.fill(words)(bytes.getLong())
    }
    val seed = Array.tabulate[Byte](32)(i => (3 * i + 1).toByte)
    for (words <- Seq(0, 5, 8192, 2 * 8192 + 3)) { // none, part of a keystream block, exactly one, more than two
      val start = Array.tabulate[Long](words)(i => i * 1000003L - 7)
      val plus = start.clone()
      Masks.add(plus, seed, 4, "pair", 1)
      val minus = start.clone()
      Masks.add(minus, seed, 4, "pair", -1)
      val stream = keystream(seed, 4, "pair", words)
      assert(plus.toSeq == start.indices.map(i => start(i) + stream(i)), s"$words words, sign +1")
      assert(minus.toSeq == start.indices.map(i => start(i) - stream(i)), s"$words words, sign -1")
    }
  }

  test("the threshold may be 1 (every client must deliver) but not 0.5; dropout may be 0 but not 1") {
    val all = new SecureAggregation(0, 1.0, 2L)
    val sampled = Array(1, 4, 6)
    val round = all.setup(5, sampled) // t = 3
    assert(round.dropouts().isEmpty)
    val encoded = sampled.map(c => Array.tabulate[Long](4)(j => (100 * c + j).toLong))
    val sum = sampled.indices.map(i => Masks.mask(encoded(i), sampled(i), round)).reduce((a, b) => a.zip(b).map { case (x, y) => x + y })
    val correction = all.unmask(round, new java.util.TreeSet[Integer](sampled.map(Int.box).toSeq.asJava), 4)
    assert(sum.zip(correction).map { case (a, b) => a - b }.toSeq == Seq(1100L, 1103L, 1106L, 1109L)) // (100 + 400 + 600) + 3 j
    assert(intercept[IllegalArgumentException](new SecureAggregation(0, 0.5, 2L)).getMessage.contains("(0.5, 1]"))
    assert(intercept[IllegalArgumentException](new SecureAggregation(1.0, 0.6, 2L)).getMessage.contains("[0, 1)"))
  }

  test("every client's self-mask seed is fresh: no two alike, within a round or across rounds, and none all zeros") {
    val secure = new SecureAggregation(0, 0.6, 3L)
    val seeds = (1 to 2).flatMap(r => secure.setup(r, Array(0, 1, 2, 3)).secrets().values().asScala.map(_.selfMaskSeed().toSeq))
    assert(seeds.size == 8 && seeds.distinct.size == 8)
    assert(seeds.forall(_.exists(_ != 0)))
  }

  test("only the latest round's shares are kept: a round set up before it can no longer be unmasked") {
    val secure = new SecureAggregation(0, 0.6, 3L)
    val first = secure.setup(1, Array(0, 1, 2))
    secure.setup(2, Array(0, 1, 2))
    val stale = intercept[IllegalStateException](secure.unmask(first, new java.util.TreeSet[Integer](Seq(0, 1, 2).map(Int.box).asJava), 3))
    assert(stale.getMessage.contains("no key setup for round 1"))
  }

  test("Shamir with threshold 1: the polynomial is the constant secret, so every share is the secret") {
    val secret = Array.tabulate[Byte](32)(i => (i + 200).toByte)
    val shares = Shamir.split(secret, 1, 3, new java.security.SecureRandom())
    assert(shares.toSeq == Seq.fill(3)(new java.math.BigInteger(1, secret)))
    assert(Shamir.combine(java.util.Map.of(Int.box(2), shares(1)), 32).sameElements(secret))
  }
}
