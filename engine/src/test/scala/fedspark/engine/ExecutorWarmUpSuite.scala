package fedspark.engine

import java.io.{ByteArrayOutputStream, PrintStream}

import org.apache.spark.api.plugin.PluginContext
import org.scalatest.funsuite.AnyFunSuite

/** The executor side of ExecutorWarmUp, called as Spark calls it (no Spark started). */
class ExecutorWarmUpSuite extends AnyFunSuite {

  private def context(executor: String): PluginContext = new PluginContext {
    override def metricRegistry() = throw new UnsupportedOperationException
    override def conf() = throw new UnsupportedOperationException
    override def executorID(): String = executor
    override def hostname(): String = "127.0.0.1"
    override def resources() = java.util.Collections.emptyMap()
    override def send(message: AnyRef): Unit = throw new UnsupportedOperationException
    override def ask(message: AnyRef): AnyRef = throw new UnsupportedOperationException
  }

  /** What the executor plugin's init printed to standard error on executor {@code executor}. */
  private def initOn(executor: String): String = {
    val printed = new ByteArrayOutputStream()
    val err = System.err
    System.setErr(new PrintStream(printed, true))
    try new ExecutorWarmUp().executorPlugin().init(context(executor), java.util.Collections.emptyMap())
    finally System.setErr(err)
    printed.toString
  }

  test("an executor loads ND4J's backend in the plugin's init and says so; local mode's executor (the driver) leaves it to the driver's warm-up") {
    val onExecutor = initOn("1")
    assert(onExecutor.startsWith("fedspark: ND4J's native backend loaded at the executor's start, before its tasks ("), onExecutor)
    assert(initOn("driver").isEmpty)
  }
}
