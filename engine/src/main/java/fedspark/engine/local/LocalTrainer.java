package fedspark.engine.local;

import fedspark.data.ClientShard;

/**
 * Minibatch steps on one thread: the inner loop of every client update. {@link Dl4jTrainer} computes them with
 * DL4J, the reference; {@link fedspark.engine.local.lean.LeanNetwork} computes the same steps for the layer
 * types the models use with far less machinery per call.
 */
public interface LocalTrainer {

    /** Overwrites the parameters with a flat vector in DL4J's order; starts with no velocity. */
    void setParameters(float[] flat);

    /** The rule later steps follow (plain SGD at the model's learning rate until set). */
    void setStepRule(StepRule rule);

    /** One step on the examples {@code order[from .. to)} of {@code shard}; returns the batch's mean loss before the step. */
    double step(ClientShard shard, int[] order, int from, int to);

    /** A copy of the parameters, flat, in DL4J's order. */
    float[] parameters();

    /** Class probabilities (softmax outputs) of the examples {@code order[from .. to)}, example after example. */
    float[] probabilities(ClientShard examples, int[] order, int from, int to);
}
