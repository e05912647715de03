package fedspark.engine.logic;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import fedspark.engine.Seeds;
import fedspark.engine.state.ClientState;
import fedspark.engine.strategy.ClientResult;
import fedspark.engine.strategy.RoundInput;

/**
 * What a transform knows of where it runs: the round's input (the global model and what the server shares, such as
 * an adaptive clip), the client, the run seed, the client's durable state (error-feedback residuals), the model's
 * layer sizes, and a place to report named quantities that the server aggregates (each with its weight).
 */
public final class TransformContext {

    /** Seeds purposes of the logic layer, beside {@link Seeds#SAMPLING} and {@link Seeds#BATCH_ORDER}. */
    public static final long TRANSFORM = 3;

    private final RoundInput input;
    private final int client;
    private final long seed;
    private final ClientState state;
    private final int[] layerSizes;
    private final Map<String, ClientResult.Weighted> reports = new TreeMap<>();

    public TransformContext(RoundInput input, int client, long seed, ClientState state, int[] layerSizes) {
        this.input = input;
        this.client = client;
        this.seed = seed;
        this.state = state;
        this.layerSizes = layerSizes;
    }

    public RoundInput input() {
        return input;
    }

    public int round() {
        return input.round();
    }

    public int client() {
        return client;
    }

    public ClientState state() {
        return state;
    }

    /** Parameters per layer, in the flat vector's order. */
    public int[] layerSizes() {
        return layerSizes;
    }

    /** A generator for the {@code step}-th transform of the pipeline, seeded by the run seed, the round and the client. */
    public SplittableRandom random(int step) {
        return new SplittableRandom(Seeds.mix(seed, TRANSFORM, input.round(), client, step));
    }

    /** Sends {@code values} under {@code name} with the client's result, averaged by the server with weight {@code weight}. */
    public void report(String name, double weight, float... values) {
        reports.put(name, new ClientResult.Weighted(weight, values));
    }

    /** What the transforms reported. */
    public Map<String, ClientResult.Weighted> reports() {
        return reports;
    }
}
