package fedspark.engine.local.lean;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Direct float buffers (what the OpenBLAS and oneDNN bindings read without copying) and the element-wise kernels the
 * layers share. Element-wise work in Java runs on heap arrays, staged from and to direct buffers by bulk copies:
 * indexed access to a direct buffer costs a bounds check and a call per element and is not vectorised.
 */
final class Buffers {

    private Buffers() {
    }

    static FloatBuffer allocate(int floats) {
        return ByteBuffer.allocateDirect(Math.max(1, floats) * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /*
     * ReLU and its gradient without branches: activations are positive or zero about half the time each,
     * in no order a branch predictor can learn, and the mispredicted branches cost more than the
     * arithmetic (a 2NN step at B = 50 spent 0.15 of its 0.8 ms in them).
     */

    /** max(z, 0); NaN stays NaN. */
    static float relu(float z) {
        return Math.max(z, 0f);
    }

    /** dOut where the ReLU's output {@code a} is positive, else +0 ({@code a} is never negative or -0). */
    static float reluGradient(float a, float dOut) {
        int positive = -Float.floatToRawIntBits(a) >> 31; // all ones when a > 0 (or a NaN: the step has diverged), else zero
        return Float.intBitsToFloat(Float.floatToRawIntBits(dOut) & positive);
    }
}
