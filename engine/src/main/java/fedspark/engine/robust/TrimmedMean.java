package fedspark.engine.robust;

import java.util.Arrays;
import java.util.List;

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, the floor(beta m) largest and smallest values are
 * dropped and the rest averaged, unweighted. With beta = 0 it is the unweighted mean.
 */
public final class TrimmedMean implements RobustRule {

    private final double beta;

    public TrimmedMean(double beta) {
        if (!(beta >= 0 && beta < 0.5)) {
            throw new IllegalArgumentException("train.robust.trim must be in [0, 0.5), got " + beta);
        }
        this.beta = beta;
    }

    @Override
    public float[] combine(List<ClientVectors.Entry> updates) {
        int m = updates.size();
        int cut = (int) Math.floor(beta * m);
        if (m - 2 * cut < 1) {
            throw new IllegalStateException("trimming " + cut + " at each end leaves none of " + m + " updates");
        }
        int d = updates.get(0).update().length;
        float[] column = new float[m];
        float[] mean = new float[d];
        for (int j = 0; j < d; j++) {
            for (int i = 0; i < m; i++) {
                column[i] = updates.get(i).update()[j];
            }
            Arrays.sort(column);
            double sum = 0;
            for (int i = cut; i < m - cut; i++) {
                sum += column[i];
            }
            mean[j] = (float) (sum / (m - 2 * cut));
        }
        return mean;
    }
}
