package fedspark.engine.strategy;

import java.io.Serializable;

import fedspark.data.ClientShard;
import fedspark.engine.state.ClientState;

/**
 * Executor-side local training: from the round's input and one client's shard (and, for strategies that keep
 * it, the client's state) to what the client sends back. Implementations must be deterministic functions of their
 * inputs (every random choice seeded by the run seed, the round and the client).
 */
public interface ClientUpdate extends Serializable {

    ClientResult update(ClientShard shard, RoundInput input, ClientState state);
}
