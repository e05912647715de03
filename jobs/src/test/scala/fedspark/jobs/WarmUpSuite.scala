package fedspark.jobs

import java.util.concurrent.{CountDownLatch, TimeUnit}
import java.util.concurrent.atomic.AtomicBoolean

import org.scalatest.funsuite.AnyFunSuite

/** The warm-up thread of `Experiment.spark`: the native backend loaded before Spark starts, the rest beside it. */
class WarmUpSuite extends AnyFunSuite {

  test("warmUp returns only once the backend part has ended, and runs the rest beside the caller") {
    val backendDone = new AtomicBoolean(false)
    val restMayEnd = new CountDownLatch(1)
    val restDone = new AtomicBoolean(false)
    val thread = Experiment.warmUp(() => { Thread.sleep(300); backendDone.set(true) }, () => { restMayEnd.await(5, TimeUnit.SECONDS); restDone.set(true) })
    assert(backendDone.get, "warmUp returned before the backend was loaded: Spark's start would overlap ND4J's")
    assert(!restDone.get && thread.isAlive, "the rest should still run on the warm-up thread")
    assert(thread.getName == "fedspark-warm-up" && thread.isDaemon)
    restMayEnd.countDown()
    thread.join(TimeUnit.SECONDS.toMillis(10))
    assert(restDone.get)
  }

  test("a backend that fails still lets the caller go on, and the rest is skipped") {
    val restRan = new AtomicBoolean(false)
    val call = java.util.concurrent.CompletableFuture.supplyAsync(() =>
      Experiment.warmUp(() => throw new UnsatisfiedLinkError("no libnd4jcpu"), () => restRan.set(true)))
    val thread = call.get(10, TimeUnit.SECONDS) // a failed backend must not leave the caller waiting
    thread.join(TimeUnit.SECONDS.toMillis(10))
    assert(!thread.isAlive && !restRan.get)
  }
}
