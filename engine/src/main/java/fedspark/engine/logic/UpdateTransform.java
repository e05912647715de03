package fedspark.engine.logic;

import java.io.Serializable;

/**
 * One step of the logic layer: what a client does to its update before it leaves the client (clip, add noise,
 * sparsify, quantize). Runs on the executor, inside the client's task; deterministic in its inputs (random choices
 * are seeded by the run seed, the round and the client through {@link TransformContext#random}).
 */
@FunctionalInterface
public interface UpdateTransform extends Serializable {

    Update apply(Update update, TransformContext context);
}
