package fedspark.engine.state;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.broadcast.Broadcast;

import fedspark.data.SerializableHadoopConf;
import fedspark.engine.ServedClient;

/**
 * Driver side: for each client that has trained, the round of its latest state version, and the same as of the
 * last checkpoint. O(clients that trained) integers; the vectors themselves never reach the driver.
 */
public final class ClientStateVersions {

    private final String root;
    private final Broadcast<SerializableHadoopConf> hadoop;
    private final Map<Integer, Integer> latest = new HashMap<>();
    private Map<Integer, Integer> checkpointed = new HashMap<>();

    /** State stored under {@code root} (any Hadoop path), starting from {@code versions} (a checkpoint's, or none). */
    public ClientStateVersions(String root, Broadcast<SerializableHadoopConf> hadoop, Map<Integer, Integer> versions) {
        this.root = root;
        this.hadoop = hadoop;
        latest.putAll(versions);
        checkpointed = new HashMap<>(versions);
    }

    /**
     * The instructions of round {@code round} for its sampled clients: read the latest version; keep stored
     * versions from the older of that and the checkpoint's, so a resume from the checkpoint finds what it reads.
     */
    public RoundStates plan(int round, int[] sampled) {
        int[] clients = sampled.clone();
        java.util.Arrays.sort(clients);
        int[] versions = new int[clients.length];
        int[] keepFrom = new int[clients.length];
        for (int i = 0; i < clients.length; i++) {
            versions[i] = latest.getOrDefault(clients[i], 0);
            keepFrom[i] = Math.min(versions[i], checkpointed.getOrDefault(clients[i], 0));
        }
        return new RoundStates(root, hadoop, round, clients, versions, keepFrom);
    }

    /** After round {@code round}: every client that trained in it (had examples) wrote that version. */
    public void record(int round, List<ServedClient> served) {
        for (ServedClient client : served) {
            if (client.examples() > 0) {
                latest.put(client.client(), round);
            }
        }
    }

    /** The versions to write into a checkpoint; from now on they are what a resume starts from. */
    public Map<Integer, Integer> checkpoint() {
        checkpointed = new HashMap<>(latest);
        return Map.copyOf(latest);
    }

    public String root() {
        return root;
    }
}
