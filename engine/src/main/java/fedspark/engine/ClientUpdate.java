package fedspark.engine;

import java.io.Serializable;

import fedspark.data.ClientShard;

/**
 * Executor-side local training: from the global parameters and one client's shard to what that client
 * sends back. Plain SGD, FedSGD's gradient, FedProx or SCAFFOLD are implementations of this one seam.
 * Implementations must be deterministic functions of their inputs (seeds come from the round and client).
 */
public interface ClientUpdate extends Serializable {

    ClientResult update(ClientShard shard, float[] global, int round);
}
