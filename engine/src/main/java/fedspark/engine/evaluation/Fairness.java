package fedspark.engine.evaluation;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * How evenly a model serves the clients (q-FFL's and Ditto's measures): over the clients with local test data, each
 * counted once whatever its size, the mean accuracy, the mean of the worst and of the best 10% of clients (at least
 * one client each), and the standard deviation. Columns of the round's metrics row, for the global model
 * ({@code client_accuracy_*}) and for the personalized models ({@code personal_accuracy_*}).
 */
public final class Fairness {

    private Fairness() {
    }

    /** The columns for {@code scores} (NaN throughout when null: no client evaluation this round). */
    public static Map<String, Double> columns(List<ClientScore> scores) {
        Map<String, Double> columns = new LinkedHashMap<>();
        double[] global = scores == null ? null : values(scores, ClientScore::accuracy);
        double[] personal = scores == null ? null : values(scores, ClientScore::personalAccuracy);
        put(columns, "client_accuracy", global);
        put(columns, "personal_accuracy", personal);
        return columns;
    }

    private static double[] values(List<ClientScore> scores, ToDoubleFunction<ClientScore> value) {
        double[] values = scores.stream().mapToDouble(value).toArray();
        Arrays.sort(values);
        return values;
    }

    private static void put(Map<String, Double> columns, String prefix, double[] sorted) {
        boolean none = sorted == null || sorted.length == 0;
        int tail = none ? 0 : Math.max(1, (int) Math.ceil(0.1 * sorted.length));
        columns.put(prefix + "_mean", none ? Double.NaN : mean(sorted, 0, sorted.length));
        columns.put(prefix + "_worst10", none ? Double.NaN : mean(sorted, 0, tail));
        columns.put(prefix + "_best10", none ? Double.NaN : mean(sorted, sorted.length - tail, sorted.length));
        double std = Double.NaN;
        if (!none) {
            double m = mean(sorted, 0, sorted.length);
            double sum = 0;
            for (double v : sorted) {
                sum += (v - m) * (v - m);
            }
            std = Math.sqrt(sum / sorted.length);
        }
        columns.put(prefix + "_std", std);
    }

    private static double mean(double[] values, int from, int to) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            sum += values[i];
        }
        return sum / (to - from);
    }
}
