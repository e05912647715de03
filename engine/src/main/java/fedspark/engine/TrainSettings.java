package fedspark.engine;

import java.io.Serializable;

import com.typesafe.config.Config;

import fedspark.engine.strategy.Strategies;
import fedspark.models.ModelDefinitions;
import fedspark.models.Models;

/**
 * The settings of a federated run, checked before any training starts.
 *
 * @param model           model name (see {@link fedspark.models.Models}), a model file, or "layers" (a definition in the config)
 * @param rounds          communication rounds
 * @param clientFraction  C: fraction of clients sampled each round; max(1, round(C*K)) clients, so C=0 means one
 * @param localEpochs     E: passes over the local data per round
 * @param batchSize       B: local minibatch size; {@link #WHOLE_SHARD} means the whole local set (B = inf)
 * @param learningRate    client learning rate
 * @param seed            seeds the initial model, client sampling and local batch order
 * @param algorithm       the strategy's registered name (see {@link fedspark.engine.strategy.Strategies})
 * @param aggregationDepth depth of the treeAggregate
 * @param localStep       how clients compute a step: {@code AUTO} takes the lean step where it covers the
 *                        model (checked against DL4J by a test) and DL4J elsewhere; {@code DL4J} always DL4J
 * @param momentum        client SGD momentum in [0, 1), PyTorch's rule (v = mu v + g, w -= lr v), velocity reset
 *                        at each local update; 0: plain SGD
 * @param weightDecay     client L2 weight decay added to the gradient (PyTorch's weight_decay); 0: none
 */
public record TrainSettings(String model, int rounds, double clientFraction, int localEpochs, int batchSize,
                            double learningRate, long seed, String algorithm, int aggregationDepth,
                            LocalStep localStep, double momentum, double weightDecay)
        implements Serializable {

    public static final int WHOLE_SHARD = Integer.MAX_VALUE;

    /** Which implementation computes a client's steps. */
    public enum LocalStep { AUTO, DL4J }

    /** Plain SGD (no momentum, no weight decay). */
    public TrainSettings(String model, int rounds, double clientFraction, int localEpochs, int batchSize, double learningRate,
                         long seed, String algorithm, int aggregationDepth, LocalStep localStep) {
        this(model, rounds, clientFraction, localEpochs, batchSize, learningRate, seed, algorithm, aggregationDepth, localStep, 0, 0);
    }

    public TrainSettings {
        require(Models.names().contains(model) || ModelDefinitions.isReference(model) || model.equals("layers"),
                "unknown model '" + model + "'; known models: " + String.join(", ", Models.names()));
        require(Strategies.names().contains(algorithm), "unknown train.algorithm '" + algorithm + "'; known algorithms: "
                + String.join(", ", Strategies.names()));
        require(momentum >= 0 && momentum < 1, "train.momentum must be in [0, 1), got " + momentum);
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "train.weight-decay cannot be negative, got " + weightDecay);
        require(rounds >= 1, "train.rounds must be at least 1, got " + rounds);
        require(clientFraction >= 0 && clientFraction <= 1, "train.C must be in [0, 1], got " + clientFraction);
        require(localEpochs >= 1, "train.E must be at least 1, got " + localEpochs);
        require(batchSize >= 1, "train.B must be at least 1 or inf, got " + batchSize);
        require(learningRate > 0 && Double.isFinite(learningRate), "train.lr must be positive, got " + learningRate);
        require(aggregationDepth >= 1, "train.aggregation-depth must be at least 1, got " + aggregationDepth);
    }

    /** Reads the {@code train} block and the model name. */
    public static TrainSettings fromConfig(String model, Config train) {
        String b = train.getString("B").trim();
        int batch;
        if (b.equals("inf")) {
            batch = WHOLE_SHARD;
        } else {
            try {
                batch = Integer.parseInt(b);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("train.B must be a positive integer or inf, got '" + b + "'");
            }
        }
        String step = train.getString("local-step");
        LocalStep localStep = switch (step) {
            case "auto" -> LocalStep.AUTO;
            case "dl4j" -> LocalStep.DL4J;
            default -> throw new IllegalArgumentException("train.local-step must be auto or dl4j, got '" + step + "'");
        };
        return new TrainSettings(model, train.getInt("rounds"), train.getDouble("C"), train.getInt("E"), batch,
                train.getDouble("lr"), train.getLong("seed"), train.getString("algorithm"), train.getInt("aggregation-depth"),
                localStep, train.getDouble("momentum"), train.getDouble("weight-decay"));
    }

    /** Clients sampled per round out of {@code clients}: max(1, round(C*K)). */
    public int sampledClients(int clients) {
        return (int) Math.max(1, Math.min(clients, Math.round(clientFraction * clients)));
    }

    /** B as the configuration writes it. */
    public String batchSizeText() {
        return batchSize == WHOLE_SHARD ? "inf" : Integer.toString(batchSize);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}
