package fedspark.partition;

import com.typesafe.config.Config;

/**
 * The partitioning schemes by name, built from a {@code partition} config block. Every scheme speaks
 * the same words: {@code clients} (K), {@code seed}, and where it applies {@code beta},
 * {@code min-client-size}, {@code max-attempts}.
 */
public final class Partitioners {

    public static final String SCHEMES = "iid, shards, dirichlet, labels, quantity, dirichlet-quantity, noise, natural";

    private Partitioners() {
    }

    public static Partitioner fromConfig(Config p) {
        String scheme = p.getString("scheme");
        int clients = p.getInt("clients");
        long seed = p.getLong("seed");
        return switch (scheme) {
            case "iid" -> new IidPartitioner(clients, seed);
            case "shards" -> new ShardPartitioner(clients, p.getInt("shards-per-client"), p.getInt("shard-size"), seed);
            case "dirichlet" -> new DirichletPartitioner(clients, p.getDouble("beta"), 0, p.getInt("min-client-size"), p.getInt("max-attempts"),
                    p.getBoolean("balance"), seed);
            case "dirichlet-quantity" -> new DirichletPartitioner(clients, p.getDouble("beta"), p.getDouble("quantity-beta"),
                    p.getInt("min-client-size"), p.getInt("max-attempts"), seed);
            case "labels" -> new LabelsPerClientPartitioner(clients, p.getInt("labels-per-client"), seed);
            case "quantity" -> new QuantityPartitioner(clients, p.getDouble("beta"), p.getInt("min-client-size"), p.getInt("max-attempts"), seed);
            case "noise" -> new FeatureNoisePartitioner(clients, p.getDouble("sigma"), seed);
            case "natural" -> new NaturalIdPartitioner(p.getString("column"), clients, seed);
            default -> throw new IllegalArgumentException("unknown partition.scheme '" + scheme + "'; known schemes: " + SCHEMES);
        };
    }
}
