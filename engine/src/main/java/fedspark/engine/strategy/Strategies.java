package fedspark.engine.strategy;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;

/**
 * The algorithms by name ({@code train.algorithm}); each is built from a {@link StrategyContext} whose options are
 * its own settings block, {@code train.<name>}. A new algorithm is one class and one line here (or a call to
 * {@link #register} from user code).
 */
public final class Strategies {

    private static final Map<String, Function<StrategyContext, Strategy<?>>> REGISTRY = new LinkedHashMap<>();

    static {
        REGISTRY.put("fedavg", FedAvg::new);
        REGISTRY.put("fedsgd", FedSgd::new);
        REGISTRY.put("fedprox", FedProx::new);
        REGISTRY.put("scaffold", Scaffold::new);
        REGISTRY.put("fednova", FedNova::new);
        REGISTRY.put("fedavgm", FedAvgM::new);
        REGISTRY.put("fedadam", FedAdam::new);
        REGISTRY.put("fedyogi", FedYogi::new);
        REGISTRY.put("fedadagrad", FedAdagrad::new);
        REGISTRY.put("robust", Robust::new);
        REGISTRY.put("fedbuff", FedBuff::new);
        REGISTRY.put("fedavg-ft", FineTunedFedAvg::new);
        REGISTRY.put("fedper", FedPer::new);
        REGISTRY.put("ditto", Ditto::new);
        REGISTRY.put("qfedavg", QFedAvg::new);
    }

    private Strategies() {
    }

    /** The registered names, in registration order. */
    public static synchronized Set<String> names() {
        return Collections.unmodifiableSet(new java.util.LinkedHashSet<>(REGISTRY.keySet()));
    }

    /** Adds (or replaces) an algorithm under {@code name}. */
    public static synchronized void register(String name, Function<StrategyContext, Strategy<?>> factory) {
        REGISTRY.put(name, factory);
    }

    /**
     * The strategy {@code settings.algorithm()} names, for K = {@code clients}, its options read from the
     * {@code train} block's sub-block of that name (empty when there is none).
     */
    public static synchronized Strategy<?> create(TrainSettings settings, ModelSpec model, Config train, int clients) {
        return create(settings, model, train, new long[clients]);
    }

    /** As {@link #create(TrainSettings, ModelSpec, Config, int)}, with the clients' example counts (K of them). */
    public static synchronized Strategy<?> create(TrainSettings settings, ModelSpec model, Config train, long[] clientSizes) {
        int clients = clientSizes.length;
        Function<StrategyContext, Strategy<?>> factory = REGISTRY.get(settings.algorithm());
        if (factory == null) {
            throw new IllegalArgumentException("unknown train.algorithm '" + settings.algorithm() + "'; known algorithms: "
                    + String.join(", ", REGISTRY.keySet()));
        }
        Config options = train.hasPath(settings.algorithm()) ? train.getConfig(settings.algorithm()) : ConfigFactory.empty();
        try {
            return factory.apply(new StrategyContext(settings, model, options, clients, train, clientSizes));
        } catch (com.typesafe.config.ConfigException.Missing e) {
            throw new IllegalArgumentException("train." + settings.algorithm() + ": " + e.getMessage(), e);
        }
    }
}
