package fedspark.engine;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import fedspark.data.ClientShard;

/** The clients of a partitioning as an RDD: partition k holds client k (see {@link ClientShardRDD}). */
public final class ClientShards {

    private ClientShards() {
    }

    public static JavaRDD<ClientShard> load(JavaSparkContext jsc, Path root, int clients, int featureSize, int classes) {
        return new ClientShardRDD(jsc.sc(), root, clients, featureSize, classes).toJavaRDD();
    }
}
