package fedspark.partition;

import com.typesafe.config.Config;

/** The partitioning schemes by name, built from a {@code partition} config block. */
public final class Partitioners {

    private Partitioners() {
    }

    /** Reads {@code scheme}, {@code clients}, {@code seed} and the scheme's own settings. */
    public static Partitioner fromConfig(Config partition) {
        String scheme = partition.getString("scheme");
        int clients = partition.getInt("clients");
        long seed = partition.getLong("seed");
        return switch (scheme) {
            case "iid" -> new IidPartitioner(clients, seed);
            case "shards" -> new ShardPartitioner(clients, partition.getInt("shards-per-client"), seed);
            default -> throw new IllegalArgumentException("unknown partition.scheme '" + scheme + "'; known schemes: iid, shards");
        };
    }
}
