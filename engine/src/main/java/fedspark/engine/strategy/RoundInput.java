package fedspark.engine.strategy;

import java.io.Serializable;
import java.util.Map;

import fedspark.engine.state.RoundStates;

/**
 * What a round broadcasts to its sampled clients: the global model, the vectors the strategy shares with every
 * client (SCAFFOLD's server control variate), the client-state instructions (null when the strategy keeps none), and
 * the round's protocol setup (secure aggregation's keys; null when there is none).
 */
public record RoundInput(int round, float[] global, Map<String, float[]> shared, RoundStates states, Serializable setup)
        implements Serializable {

    public RoundInput(int round, float[] global, Map<String, float[]> shared, RoundStates states) {
        this(round, global, shared, states, null);
    }

    /** A shared vector; an error naming it when the strategy did not share it. */
    public float[] shared(String name) {
        float[] vector = shared.get(name);
        if (vector == null) {
            throw new IllegalStateException("round " + round + " shares no vector '" + name + "'");
        }
        return vector;
    }
}
