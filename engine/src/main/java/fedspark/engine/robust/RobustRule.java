package fedspark.engine.robust;

import java.util.List;

/** How the server combines the round's client updates into one, robust to some of them being malicious. */
@FunctionalInterface
public interface RobustRule {

    /** The combined update of {@code updates} (at least one, sorted by client). */
    float[] combine(List<ClientVectors.Entry> updates);

    /** The weighted mean, sum_k w_k x_k / sum_k w_k, in double: FedAvg's rule (robust to nothing). */
    static float[] weightedMean(List<ClientVectors.Entry> updates) {
        int d = updates.get(0).update().length;
        double[] sum = new double[d];
        double total = 0;
        for (ClientVectors.Entry e : updates) {
            for (int j = 0; j < d; j++) {
                sum[j] += e.weight() * e.update()[j];
            }
            total += e.weight();
        }
        float[] mean = new float[d];
        for (int j = 0; j < d; j++) {
            mean[j] = (float) (sum[j] / total);
        }
        return mean;
    }
}
