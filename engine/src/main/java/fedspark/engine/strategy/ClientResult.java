package fedspark.engine.strategy;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

import fedspark.engine.logic.Update;

/**
 * What one client sends back after its local update.
 *
 * @param client    client id
 * @param examples  n_k, its example count
 * @param weight    its weight in the round's average of {@code vector} (n_k for FedAvg; 0 for a client with no examples)
 * @param vector    its model, update or gradient, flat (empty when {@code update} carries it)
 * @param named     further named quantities, each averaged with its own weight (SCAFFOLD's control-variate delta with
 *                  weight 1, FedNova's normalising factor); a scalar is a vector of length 1
 * @param lossSum   sum over its local steps of batch loss x batch size
 * @param lossCount sum over its local steps of batch size, so lossSum / lossCount is its mean training loss
 * @param update    its vector as the logic layer left it (clipped, noised, sparsified, quantized), or null
 * @param masked    under secure aggregation, all of the above encoded in fixed point and masked (the rest is then
 *                  empty: nothing of the client leaves its task unmasked), or null
 */
public record ClientResult(int client, long examples, double weight, float[] vector, Map<String, Weighted> named,
                           double lossSum, long lossCount, Update update, long[] masked) implements Serializable {

    public ClientResult(int client, long examples, double weight, float[] vector, Map<String, Weighted> named,
                        double lossSum, long lossCount) {
        this(client, examples, weight, vector, named, lossSum, lossCount, null, null);
    }

    /** What a client sends under secure aggregation: its masked encoding, nothing else (its example count stays hidden). */
    public static ClientResult masked(int client, long[] masked) {
        return new ClientResult(client, 0, 0, new float[0], Map.of(), 0, 0, null, masked);
    }

    /** A named quantity and its weight. */
    public record Weighted(double weight, float[] values) implements Serializable {
    }

    /** A client weighted by its example count, nothing named. */
    public static ClientResult weightedByExamples(int client, long examples, float[] vector, double lossSum, long lossCount) {
        return new ClientResult(client, examples, examples, vector, Map.of(), lossSum, lossCount);
    }

    /** A client without examples: counted as served, carries no weight. */
    public static ClientResult empty(int client) {
        return new ClientResult(client, 0, 0, new float[0], Map.of(), 0, 0);
    }

    /** This result with one more named quantity. */
    public ClientResult with(String name, double weight, float... values) {
        Map<String, Weighted> more = new TreeMap<>(named);
        more.put(name, new Weighted(weight, values));
        return new ClientResult(client, examples, this.weight, vector, more, lossSum, lossCount, update, masked);
    }

    /** This result with its vector replaced by what the logic layer made of it, weighing {@code newWeight}, and more named quantities. */
    public ClientResult transformed(Update transformed, double newWeight, Map<String, Weighted> reports) {
        Map<String, Weighted> more = new TreeMap<>(named);
        more.putAll(reports);
        return new ClientResult(client, examples, newWeight, new float[0], more, lossSum, lossCount, transformed, null);
    }

    /** Its change from the model {@code x} it trained from: the logic layer's update, or its model minus x. */
    public float[] changeFrom(float[] x) {
        float[] delta = new float[x.length];
        if (update != null) {
            double[] dense = update.toDense();
            for (int j = 0; j < delta.length; j++) {
                delta[j] = (float) dense[j];
            }
        } else {
            for (int j = 0; j < delta.length; j++) {
                delta[j] = vector[j] - x[j];
            }
        }
        return delta;
    }

    /** The bytes it sends as encoded: its vector (4 per float, or the logic layer's encoding) and 4 per named value. */
    public long bytes() {
        if (masked != null) {
            return 8L * masked.length;
        }
        long bytes = update != null ? update.bytes() : 4L * vector.length;
        for (Weighted w : named.values()) {
            bytes += 4L * w.values().length;
        }
        return bytes;
    }
}
