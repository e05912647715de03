package fedspark.engine;

import java.util.Map;

import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.PluginContext;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * A Spark plugin (spark.plugins, which fedspark's jobs set) that loads ND4J's native backend when an executor
 * starts, before it runs a task. Why: ND4J's start looks symbols up through JavaCPP's Loader.addressof, which calls
 * dlopen from inside glibc's dl_iterate_phdr; a dlopen of a new library on another thread meanwhile (a second task
 * reading its client's Parquet loads zstd-jni's) takes glibc's two loader locks in the other order, and both threads
 * wait for ever. The driver's JVM, local mode's executor too, loads the backend before Spark starts (the jobs'
 * warm-up), so there the plugin does nothing. A failure is left to the first model a task builds, which reports it.
 */
public final class ExecutorWarmUp implements SparkPlugin {

    /** The executor id Spark gives local mode's executor, the driver's JVM. */
    private static final String LOCAL_EXECUTOR = "driver";

    @Override
    public DriverPlugin driverPlugin() {
        return null;
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            @Override
            public void init(PluginContext context, Map<String, String> extraConf) {
                if (!LOCAL_EXECUTOR.equals(context.executorID())) {
                    System.err.println(loadBackend());
                }
            }
        };
    }

    /** Loads the backend; what happened, as a line for the executor's log. */
    static String loadBackend() {
        long start = System.nanoTime();
        try {
            org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1);
            return String.format(java.util.Locale.ROOT, "fedspark: ND4J's native backend loaded at the executor's start, before its tasks (%.0f ms)",
                    (System.nanoTime() - start) / 1e6);
        } catch (RuntimeException | LinkageError e) {
            return "fedspark: ND4J's native backend did not load at the executor's start (" + e + "); the first task reports it";
        }
    }
}
