package fedspark.engine.local.lean;

import java.nio.FloatBuffer;

/** One layer of the lean network: sizes per example, its parameters' place, forward and backward. */
interface LeanLayer {

    int inSize();

    int outSize();

    int parameterCount();

    /** Takes this layer's slices of the parameters and of the buffer its gradient goes into (see {@link #backward}). */
    void bind(FloatBuffer parameters, FloatBuffer target, int offset);

    void forward(FloatBuffer in, FloatBuffer out, int batch);

    /**
     * From dLoss/d(out) to dLoss/d(in) (skipped when {@code dIn} is null), computed with the parameters as
     * they were in the forward pass; then, with g the gradient, T = beta * T + alpha * g where T is the
     * parameters themselves or the bound target (see {@link Update}).
     */
    void backward(FloatBuffer in, FloatBuffer out, FloatBuffer dOut, FloatBuffer dIn, int batch, Update update);

    /**
     * How a layer applies its gradient g: T = beta * T + alpha * g. Plain SGD: T the parameters, alpha = -lr,
     * beta = 1; momentum: T the velocity, alpha = 1, beta = mu; any other step rule: T a gradient buffer, alpha = 1,
     * beta = 0, and the rule runs after the backward pass.
     */
    record Update(float alpha, float beta, boolean intoTarget) {
    }
}
