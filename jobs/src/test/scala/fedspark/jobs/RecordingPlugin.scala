package fedspark.jobs

import org.apache.spark.SparkContext
import org.apache.spark.api.plugin.{DriverPlugin, ExecutorPlugin, PluginContext, SparkPlugin}

/** A user's own Spark plugin, for CommandLineSuite: when the driver starts it, it records the plugins Spark was given. */
class RecordingPlugin extends SparkPlugin {
  override def driverPlugin(): DriverPlugin = new DriverPlugin {
    override def init(sc: SparkContext, context: PluginContext): java.util.Map[String, String] = {
      RecordingPlugin.plugins = sc.getConf.get("spark.plugins")
      java.util.Collections.emptyMap()
    }
  }

  override def executorPlugin(): ExecutorPlugin = null
}

object RecordingPlugin {
  @volatile var plugins: String = _
}
