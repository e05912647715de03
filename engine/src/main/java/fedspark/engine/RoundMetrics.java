package fedspark.engine;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One row of a run's metrics table: the columns every run has, then the strategy's own ({@code extra}, e.g.
 * FedNova's tau_effective), in the strategy's order.
 */
public record RoundMetrics(int round, int clients, long samples, double trainLoss, double testLoss,
                           double testAccuracy, double seconds, Map<String, Double> extra) {

    public static final String CSV_HEADER = "round,clients,samples,train_loss,test_loss,test_accuracy,seconds";

    public RoundMetrics {
        extra = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(extra));
    }

    /** A row without strategy columns. */
    public RoundMetrics(int round, int clients, long samples, double trainLoss, double testLoss, double testAccuracy, double seconds) {
        this(round, clients, samples, trainLoss, testLoss, testAccuracy, seconds, Map.of());
    }

    /** The CSV header of rows like this one. */
    public String csvHeader() {
        StringBuilder header = new StringBuilder(CSV_HEADER);
        extra.keySet().forEach(name -> header.append(',').append(name));
        return header.toString();
    }

    public String csv() {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%d,%d,%d,%.6f,%.6f,%.4f,%.3f",
                round, clients, samples, trainLoss, testLoss, testAccuracy, seconds));
        extra.values().forEach(value -> line.append(',').append(String.format(Locale.ROOT, "%.6g", value)));
        return line.toString();
    }

    /** The progress line printed after each round (columns without a value this round left out). */
    public String progress(int rounds) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                "round %d/%d  clients %d  samples %d  train loss %.4f  test loss %.4f  test acc %.4f  %.2f s",
                round, rounds, clients, samples, trainLoss, testLoss, testAccuracy, seconds));
        extra.forEach((name, value) -> {
            if (!value.isNaN()) { // a column without a value this round (e.g. no client evaluation)
                line.append(String.format(Locale.ROOT, "  %s %.4g", name, value));
            }
        });
        return line.toString();
    }
}
