package fedspark.data;

import java.io.Serializable;

/**
 * One client's examples, held by the task (and executor cache) of that client only.
 * Features are row-major: example i occupies {@code features[i*featureSize .. (i+1)*featureSize)}.
 */
public record ClientShard(int client, int featureSize, float[] features, int[] labels) implements Serializable {

    public ClientShard {
        if (features.length != (long) labels.length * featureSize) {
            throw new IllegalArgumentException("client " + client + ": " + features.length + " feature values for "
                    + labels.length + " examples of " + featureSize);
        }
    }

    /** Number of examples, n_k. */
    public int size() {
        return labels.length;
    }

    public static ClientShard empty(int client, int featureSize) {
        return new ClientShard(client, featureSize, new float[0], new int[0]);
    }
}
