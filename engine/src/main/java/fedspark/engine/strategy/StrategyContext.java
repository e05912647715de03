package fedspark.engine.strategy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;

/**
 * What a strategy is built from: the run's settings, its model, the algorithm's own settings block
 * ({@code train.<algorithm>} in the configuration), the number of clients K, the whole {@code train} block (the
 * logic layer's {@code update} and {@code privacy} blocks) and the clients' example counts.
 */
public record StrategyContext(TrainSettings settings, ModelSpec model, Config options, int clients, Config train,
                              long[] clientSizes) {

    /** Without a logic layer or privacy (and without client sizes). */
    public StrategyContext(TrainSettings settings, ModelSpec model, Config options, int clients) {
        this(settings, model, options, clients, ConfigFactory.empty(), new long[clients]);
    }

    /** This context without simulated rounds (for a strategy that schedules clients itself and trains them as FedAvg does). */
    public StrategyContext withoutSimulation() {
        return new StrategyContext(settings, model, options, clients, train.withoutPath("simulation"), clientSizes);
    }

    public StrategyContext {
        if (clientSizes.length != clients) {
            throw new IllegalArgumentException(clientSizes.length + " client sizes for " + clients + " clients");
        }
    }
}
