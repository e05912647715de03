package fedspark.engine;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;

/**
 * The clients as an RDD with exactly one partition per client: partition k holds client k's shard,
 * read from its own directory by its own task and kept in that executor's {@link ShardCache}.
 */
public final class ClientShards {

    private ClientShards() {
    }

    public static JavaRDD<ClientShard> load(JavaSparkContext jsc, Path root, int clients, int featureSize, int classes) {
        List<Integer> ids = new ArrayList<>(clients);
        for (int k = 0; k < clients; k++) {
            ids.add(k);
        }
        SerializableHadoopConf hadoop = new SerializableHadoopConf(jsc.hadoopConfiguration());
        String rootName = root.toString();
        // parallelize slices a list of K ids into K partitions of one id each, in order: partition k is client k.
        return jsc.parallelize(ids, clients)
                .map(k -> ShardCache.shared().get(rootName + "#" + k,
                        () -> ClientLayout.read(new Path(rootName), k, featureSize, classes, hadoop.get())))
                .setName("client shards of " + rootName);
    }
}
