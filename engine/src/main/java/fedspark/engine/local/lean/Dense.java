package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static fedspark.engine.local.lean.Buffers.relu;
import static fedspark.engine.local.lean.Buffers.reluGradient;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;

import java.nio.FloatBuffer;

/** A dense layer, column-major: activations in x batch, W in x out ('f'-ordered [in, out]); ReLU or none (output). */
final class Dense implements LeanLayer {
    private final int in;
    private final int out;
    private final boolean relu;
    private FloatBuffer weights;
    private FloatBuffer biases;
    private FloatBuffer weightTarget;
    private FloatBuffer biasTarget;
    private FloatBuffer dz;
    private FloatBuffer ones;

    Dense(int in, int out, boolean relu) {
        this.in = in;
        this.out = out;
        this.relu = relu;
    }

    public int inSize() {
        return in;
    }

    public int outSize() {
        return out;
    }

    public int parameterCount() {
        return in * out + out;
    }

    public void bind(FloatBuffer p, FloatBuffer target, int offset) {
        weights = p.slice(offset, in * out);
        biases = p.slice(offset + in * out, out);
        weightTarget = target.slice(offset, in * out);
        biasTarget = target.slice(offset + in * out, out);
    }

    public void forward(FloatBuffer x, FloatBuffer a, int batch) {
        cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, out, batch, in, 1f, weights, in, x, in, 0f, a, out);
        for (int j = 0; j < batch; j++) {
            int column = j * out;
            for (int k = 0; k < out; k++) {
                float z = a.get(column + k) + biases.get(k);
                a.put(column + k, relu ? relu(z) : z);
            }
        }
    }

    public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
        FloatBuffer delta = dA;
        if (relu) {
            if (dz == null || dz.capacity() < out * batch) {
                dz = allocate(out * batch);
            }
            for (int i = 0; i < out * batch; i++) {
                dz.put(i, reluGradient(a.get(i), dA.get(i)));
            }
            delta = dz;
        }
        if (dX != null) {
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, in, batch, out, 1f, weights, in, delta, out, 0f, dX, in);
        }
        FloatBuffer wt = update.intoTarget() ? weightTarget : weights;
        FloatBuffer bt = update.intoTarget() ? biasTarget : biases;
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, in, out, batch, update.alpha(), x, in, delta, out, update.beta(), wt, in);
        // The bias gradient is delta summed over the batch: delta times a vector of ones.
        if (ones == null || ones.capacity() < batch) {
            ones = allocate(batch);
            for (int j = 0; j < batch; j++) {
                ones.put(j, 1f);
            }
        }
        cblas_sgemv(CblasColMajor, CblasNoTrans, out, batch, update.alpha(), delta, out, ones, 1, update.beta(), bt, 1);
    }
}

