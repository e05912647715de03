package fedspark.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.fs.Path;
import org.apache.spark.Dependency;
import org.apache.spark.Partition;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.rdd.RDD;

import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.reflect.ClassTag$;

/**
 * The clients as an RDD with one partition per client: partition k reads client k's shard from its own
 * directory into the executor's {@link ShardCache}, where it stays for that client's later rounds.
 *
 * <p>Client affinity: the driver remembers which executor served each client ({@link #remember}) and gives
 * it as the partition's preferred location, so Spark's delay scheduling sends the client's later tasks to the
 * executor that already holds its shard (waiting up to {@code spark.locality.wait} for it). The shard itself
 * never goes through Spark's block manager, so no other executor can fetch it.
 */
public final class ClientShardRDD extends RDD<ClientShard> {

    /** Marks this RDD's stage as a client stage for {@link PrivacyAudit}. */
    static final String NAME_PREFIX = "client shards of ";

    private final String root;
    private final int clients;
    private final int featureSize;
    private final int classes;
    private final SerializableHadoopConf hadoop;
    private final transient Map<Integer, ServedClient> placement = new ConcurrentHashMap<>();

    public ClientShardRDD(SparkContext sc, Path root, int clients, int featureSize, int classes) {
        super(sc, JavaConverters.asScalaBuffer(new ArrayList<Dependency<?>>()).toSeq(), ClassTag$.MODULE$.apply(ClientShard.class));
        this.root = root.toString();
        this.clients = clients;
        this.featureSize = featureSize;
        this.classes = classes;
        this.hadoop = new SerializableHadoopConf(sc.hadoopConfiguration());
        setName(NAME_PREFIX + root);
    }

    @Override
    public Iterator<ClientShard> compute(Partition split, TaskContext context) {
        int client = split.index();
        ClientShard shard = ShardCache.shared().get(root + "#" + client,
                () -> ClientLayout.read(new Path(root), client, featureSize, classes, hadoop.get()));
        return scala.collection.Iterator$.MODULE$.single(shard);
    }

    @Override
    public Partition[] getPartitions() {
        Partition[] partitions = new Partition[clients];
        for (int k = 0; k < clients; k++) {
            partitions[k] = new ClientPartition(k);
        }
        return partitions;
    }

    @Override
    public Seq<String> getPreferredLocations(Partition split) {
        ServedClient last = placement.get(split.index());
        List<String> locations = last == null ? List.of() : List.of(last.location());
        return JavaConverters.asScalaBuffer(locations).toSeq();
    }

    /** Driver side: where each client of a round was served, so its next task goes back there. */
    public void remember(List<ServedClient> served) {
        for (ServedClient client : served) {
            placement.put(client.client(), client);
        }
    }

    /** The executor that last served {@code client}, or null before its first round. */
    public ServedClient placementOf(int client) {
        return placement.get(client);
    }

    private record ClientPartition(int index) implements Partition {
    }
}
