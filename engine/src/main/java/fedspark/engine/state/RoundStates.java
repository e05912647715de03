package fedspark.engine.state;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Map;

import org.apache.spark.broadcast.Broadcast;

import fedspark.data.SerializableHadoopConf;

/**
 * The round's instructions for client state, shipped to executors with the round's broadcast: for each sampled
 * client, which version to read and from which version on its stored versions must be kept.
 */
public final class RoundStates implements Serializable {

    private final String root;
    private final Broadcast<SerializableHadoopConf> hadoop;
    private final int round;
    private final int[] clients; // sorted
    private final int[] versions;
    private final int[] keepFrom;

    RoundStates(String root, Broadcast<SerializableHadoopConf> hadoop, int round, int[] clients, int[] versions, int[] keepFrom) {
        this.root = root;
        this.hadoop = hadoop;
        this.round = round;
        this.clients = clients;
        this.versions = versions;
        this.keepFrom = keepFrom;
    }

    /** Client {@code client}'s state for this round's update; {@link Handle#commit} stores what the update left. */
    public Handle open(int client) {
        int i = Arrays.binarySearch(clients, client);
        if (i < 0) {
            throw new IllegalStateException("client " + client + " is not sampled in round " + round);
        }
        return new Handle(client, ClientStateStore.shared().read(root, client, versions[i], hadoop.value().get()), keepFrom[i]);
    }

    /** One client's state during its update. */
    public final class Handle implements ClientState {
        private final int client;
        private final Map<String, float[]> vectors;
        private final int keepFrom;

        private Handle(int client, Map<String, float[]> vectors, int keepFrom) {
            this.client = client;
            this.vectors = vectors;
            this.keepFrom = keepFrom;
        }

        @Override
        public float[] get(String name) {
            return vectors.get(name);
        }

        @Override
        public void put(String name, float[] values) {
            vectors.put(name, values);
        }

        /** Writes this round's version (the driver reads it as the client's state from now on). */
        public void commit() {
            ClientStateStore.shared().write(root, client, round, vectors, keepFrom, hadoop.value().get());
        }
    }
}
