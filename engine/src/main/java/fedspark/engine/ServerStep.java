package fedspark.engine;

import java.io.Serializable;

/**
 * The server's update of the global model from the round's weighted average of what clients sent.
 * Server optimizers (FedAvgM, FedAdam, FedYogi) are implementations of this seam.
 */
public interface ServerStep extends Serializable {

    float[] next(float[] global, float[] average);

    /** FedAvg: the new global model is the weighted average of the client models. */
    static ServerStep modelAverage() {
        return (global, average) -> average;
    }

    /** FedSGD with gradients: one step of gradient descent along the weighted average gradient. */
    static ServerStep gradientDescent(double learningRate) {
        return (global, average) -> {
            float[] next = new float[global.length];
            for (int i = 0; i < global.length; i++) {
                next[i] = (float) (global[i] - learningRate * average[i]);
            }
            return next;
        };
    }
}
