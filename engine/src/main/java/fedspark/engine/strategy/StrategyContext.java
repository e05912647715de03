package fedspark.engine.strategy;

import com.typesafe.config.Config;

import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;

/**
 * What a strategy is built from: the run's settings, its model, the algorithm's own settings block
 * ({@code train.<algorithm>} in the configuration) and the number of clients K.
 */
public record StrategyContext(TrainSettings settings, ModelSpec model, Config options, int clients) {
}
