package fedspark.engine.robust;

import java.util.Arrays;
import java.util.List;

/** Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning"): unweighted; the mean of the two middle values for an even count. */
public final class CoordinateMedian implements RobustRule {

    @Override
    public float[] combine(List<ClientVectors.Entry> updates) {
        int m = updates.size();
        int d = updates.get(0).update().length;
        float[] column = new float[m];
        float[] median = new float[d];
        for (int j = 0; j < d; j++) {
            for (int i = 0; i < m; i++) {
                column[i] = updates.get(i).update()[j];
            }
            Arrays.sort(column);
            median[j] = m % 2 == 1 ? column[m / 2] : (float) (((double) column[m / 2 - 1] + column[m / 2]) / 2);
        }
        return median;
    }
}
