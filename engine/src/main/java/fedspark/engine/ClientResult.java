package fedspark.engine;

import java.io.Serializable;

/**
 * What one client sends back after its local update.
 *
 * @param client      client id
 * @param examples    n_k, the weight of this client in the average
 * @param vector      its model (or gradient), flat
 * @param lossSum     sum over its local steps of batch loss x batch size
 * @param lossCount   sum over its local steps of batch size, so lossSum / lossCount is its mean training loss
 */
public record ClientResult(int client, long examples, float[] vector, double lossSum, long lossCount) implements Serializable {
}
