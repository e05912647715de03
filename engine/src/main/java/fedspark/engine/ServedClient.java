package fedspark.engine;

import java.io.Serializable;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * Where one client's update of a round was computed: the executor that holds its shard, and the task
 * attempt whose result was counted. The driver learns client placement from these (see {@link ClientShardRDD}).
 *
 * @param client   client id
 * @param examples its n_k (the driver balances the clients' work across tasks with it)
 * @param executor Spark executor id ("driver" in local mode)
 * @param host     that executor's host
 * @param attempt  the attempt number of the task whose result was counted (0: the first)
 */
public record ServedClient(int client, long examples, String executor, String host, int attempt) implements Serializable {

    /** The client served by the task running this code (outside Spark: executor and host "none"). */
    public static ServedClient here(int client, long examples) {
        SparkEnv env = SparkEnv.get();
        TaskContext task = TaskContext.get();
        return new ServedClient(client, examples,
                env == null ? "none" : env.executorId(),
                env == null ? "none" : env.blockManager().blockManagerId().host(),
                task == null ? 0 : task.attemptNumber());
    }
}
