package fedspark.engine.strategy;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one client sends back after its local update.
 *
 * @param client    client id
 * @param examples  n_k, its example count
 * @param weight    its weight in the round's average of {@code vector} (n_k for FedAvg; 0 for a client with no examples)
 * @param vector    its model, update or gradient, flat
 * @param named     further named quantities, each averaged with its own weight (SCAFFOLD's control-variate delta with
 *                  weight 1, FedNova's normalising factor); a scalar is a vector of length 1
 * @param lossSum   sum over its local steps of batch loss x batch size
 * @param lossCount sum over its local steps of batch size, so lossSum / lossCount is its mean training loss
 */
public record ClientResult(int client, long examples, double weight, float[] vector, Map<String, Weighted> named,
                           double lossSum, long lossCount) implements Serializable {

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
        return new ClientResult(client, examples, this.weight, vector, more, lossSum, lossCount);
    }
}
