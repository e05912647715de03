package fedspark.jobs;

import java.util.concurrent.Callable;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import fedspark.data.BadInputException;
import fedspark.engine.DriverHarness;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The driver's heap and seconds a round at K clients, without training data ({@link DriverHarness}), beside the same
 * at a small K in the same JVM: how the driver's work grows with K.
 */
@Command(name = "driver-scale", mixinStandardHelpOptions = true,
        description = "The driver's live heap and seconds a round at K clients, no training data, against a small K in the same run.")
final class DriverScale implements Callable<Integer> {

    @Option(names = "--clients", description = "K (default: ${DEFAULT-VALUE})")
    int clients = 10_000_000;

    @Option(names = "--small", description = "the K it is compared with (default: ${DEFAULT-VALUE})")
    int small = 1_000;

    @Option(names = "--files", description = "files of the partitioning (default: ${DEFAULT-VALUE})")
    int files = 1_000;

    @Option(names = "--sampled", description = "clients a round (default: ${DEFAULT-VALUE})")
    int sampled = 100;

    @Option(names = "--rounds", description = "rounds (default: ${DEFAULT-VALUE})")
    int rounds = 30;

    @Option(names = "--master", description = "Spark master (default: ${DEFAULT-VALUE})")
    String master = "local[2]";

    @Override
    public Integer call() {
        if (small < 1 || clients < small || sampled < 1 || sampled > small || files < 1 || rounds < 1) {
            throw new BadInputException("driver-scale needs 1 <= --sampled <= --small <= --clients, --files >= 1 and --rounds >= 1");
        }
        SparkSession spark = SparkSession.builder().appName("fedspark driver-scale").master(master)
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            DriverHarness.run(jsc, small, Math.min(files, small), sampled, 3, 1L, line -> { }); // Spark's and the JIT's first work
            DriverHarness.Result few = DriverHarness.run(jsc, small, Math.min(files, small), sampled, rounds, 1L, FedSpark::say);
            DriverHarness.Result many = DriverHarness.run(jsc, clients, files, sampled, rounds, 1L, FedSpark::say);
            FedSpark.say(String.format(java.util.Locale.ROOT, "K=%,d against K=%,d: %.2f the seconds a round on the driver;"
                            + " %.1f MB more live heap with the index, %.1f MB after the rounds", clients, small,
                    many.medianSeconds() / few.medianSeconds(), (many.indexBytes() - few.indexBytes()) / 1e6,
                    (many.afterRoundsBytes() - few.afterRoundsBytes()) / 1e6));
        } finally {
            spark.stop();
        }
        return 0;
    }
}
