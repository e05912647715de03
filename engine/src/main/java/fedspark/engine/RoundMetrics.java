package fedspark.engine;

import java.util.Locale;

/** One row of a run's metrics table. */
public record RoundMetrics(int round, int clients, long samples, double trainLoss, double testLoss,
                           double testAccuracy, double seconds) {

    public static final String CSV_HEADER = "round,clients,samples,train_loss,test_loss,test_accuracy,seconds";

    public String csv() {
        return String.format(Locale.ROOT, "%d,%d,%d,%.6f,%.6f,%.4f,%.3f",
                round, clients, samples, trainLoss, testLoss, testAccuracy, seconds);
    }

    /** The progress line printed after each round. */
    public String progress(int rounds) {
        return String.format(Locale.ROOT, "round %d/%d  clients %d  samples %d  train loss %.4f  test loss %.4f  test acc %.4f  %.2f s",
                round, rounds, clients, samples, trainLoss, testLoss, testAccuracy, seconds);
    }
}
