package fedspark.engine.strategy;

import java.io.Serializable;

import fedspark.data.ClientShard;
import fedspark.engine.state.ClientState;

/**
 * Executor side: the model a client evaluates on its local test set besides the global one (a fine-tuned global
 * model, the global body with the client's own head, a personal model kept as client state). Reads the client's
 * state, never writes it. Deterministic like {@link ClientUpdate}.
 */
public interface Personalization extends Serializable {

    /** Client {@code train.client()}'s model, from its training shard, the round's input (the global model) and its state. */
    float[] model(ClientShard train, RoundInput input, ClientState state);
}
