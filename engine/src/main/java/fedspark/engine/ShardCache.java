package fedspark.engine;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

import fedspark.data.ClientShard;

/**
 * The executor-side cache of client shards: a client's shard is read from storage the first time one of
 * its tasks runs in this JVM and kept for its later rounds, least recently used first out when the cache
 * exceeds its byte budget. Kept by fedspark rather than by Spark's RDD cache because Spark looks up the
 * location of every cached partition at each job, a cost that grows with K when only m clients train.
 */
public final class ShardCache {

    /** Budget: this fraction of the JVM's maximum heap. */
    static final double HEAP_FRACTION = 0.4;

    private static final ShardCache INSTANCE = new ShardCache((long) (Runtime.getRuntime().maxMemory() * HEAP_FRACTION));

    private final long budgetBytes;
    private final LinkedHashMap<String, ClientShard> shards = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long loads;

    ShardCache(long budgetBytes) {
        this.budgetBytes = budgetBytes;
    }

    /** This JVM's cache. */
    public static ShardCache shared() {
        return INSTANCE;
    }

    /** The cached shard under {@code key}, loaded by {@code load} (outside the lock) when absent. */
    public ClientShard get(String key, Supplier<ClientShard> load) {
        synchronized (this) {
            ClientShard cached = shards.get(key);
            if (cached != null) {
                return cached;
            }
        }
        ClientShard loaded = load.get();
        synchronized (this) {
            loads++;
            ClientShard raced = shards.get(key);
            if (raced != null) {
                return raced;
            }
            shards.put(key, loaded);
            bytes += size(loaded);
            Iterator<Map.Entry<String, ClientShard>> eldest = shards.entrySet().iterator();
            while (bytes > budgetBytes && eldest.hasNext()) {
                Map.Entry<String, ClientShard> entry = eldest.next();
                if (entry.getValue() == loaded) {
                    break;
                }
                bytes -= size(entry.getValue());
                eldest.remove();
            }
            return loaded;
        }
    }

    /** Shards read from storage so far (a shard read again after eviction counts again). */
    public synchronized long loads() {
        return loads;
    }

    public synchronized int size() {
        return shards.size();
    }

    /** Drops every shard of the partitioning at {@code root}. */
    public synchronized void evict(String root) {
        Iterator<Map.Entry<String, ClientShard>> it = shards.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, ClientShard> entry = it.next();
            if (entry.getKey().startsWith(root + "#")) {
                bytes -= size(entry.getValue());
                it.remove();
            }
        }
    }

    private static long size(ClientShard shard) {
        return 64L + 4L * shard.features().length + 4L * shard.labels().length;
    }
}
