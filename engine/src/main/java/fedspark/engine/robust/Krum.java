package fedspark.engine.robust;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
 * Descent"): each update's score is the sum of its squared distances to its m - f - 2 nearest other updates, f the
 * number of Byzantine clients assumed; Krum takes the update of lowest score, Multi-Krum the unweighted mean of the
 * {@code selected} lowest (ties to the lower client id).
 */
public final class Krum implements RobustRule {

    private final double byzantineFraction;
    private final int selected; // 1: Krum

    /** {@code selected} updates averaged (1 for Krum, 0 for m - f), f = floor(byzantineFraction m). */
    public Krum(double byzantineFraction, int selected) {
        if (!(byzantineFraction >= 0 && byzantineFraction < 0.5)) {
            throw new IllegalArgumentException("train.robust.byzantine must be in [0, 0.5), got " + byzantineFraction);
        }
        this.byzantineFraction = byzantineFraction;
        this.selected = selected;
    }

    @Override
    public float[] combine(List<ClientVectors.Entry> updates) {
        int m = updates.size();
        int f = (int) Math.floor(byzantineFraction * m);
        int neighbours = Math.max(1, m - f - 2);
        double[][] distance = new double[m][m];
        for (int a = 0; a < m; a++) {
            for (int b = a + 1; b < m; b++) {
                double sum = 0;
                float[] x = updates.get(a).update();
                float[] y = updates.get(b).update();
                for (int j = 0; j < x.length; j++) {
                    double diff = (double) x[j] - y[j];
                    sum += diff * diff;
                }
                distance[a][b] = sum;
                distance[b][a] = sum;
            }
        }
        double[] score = new double[m];
        for (int a = 0; a < m; a++) {
            double[] others = new double[m - 1];
            int n = 0;
            for (int b = 0; b < m; b++) {
                if (b != a) {
                    others[n++] = distance[a][b];
                }
            }
            Arrays.sort(others);
            for (int k = 0; k < Math.min(neighbours, others.length); k++) {
                score[a] += others[k];
            }
        }
        List<Integer> order = new ArrayList<>();
        for (int a = 0; a < m; a++) {
            order.add(a);
        }
        order.sort(Comparator.<Integer>comparingDouble(a -> score[a]).thenComparingInt(a -> a));
        int take = selected == 0 ? Math.max(1, m - f) : Math.min(selected, m);
        int d = updates.get(0).update().length;
        double[] sum = new double[d];
        for (int k = 0; k < take; k++) {
            float[] x = updates.get(order.get(k)).update();
            for (int j = 0; j < d; j++) {
                sum[j] += x[j];
            }
        }
        float[] mean = new float[d];
        for (int j = 0; j < d; j++) {
            mean[j] = (float) (sum[j] / take);
        }
        return mean;
    }
}
