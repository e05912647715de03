package fedspark.engine;

import fedspark.data.ClientShard;

/**
 * Minibatch SGD on one thread: the inner loop of every client update. {@link Dl4jTrainer} calls DL4J's
 * {@code fit()}, the reference; {@link LeanNetwork} computes the same step for the layer types the models
 * use with far less machinery per call.
 */
public interface LocalTrainer {

    /** Overwrites the parameters with a flat vector in DL4J's order. */
    void setParameters(float[] flat);

    /** One SGD step on the examples {@code order[from .. to)} of {@code shard}; returns the batch's mean loss before the step. */
    double step(ClientShard shard, int[] order, int from, int to);

    /** A copy of the parameters, flat, in DL4J's order. */
    float[] parameters();

    /** Class probabilities (softmax outputs) of the examples {@code order[from .. to)}, example after example. */
    float[] probabilities(ClientShard examples, int[] order, int from, int to);
}
