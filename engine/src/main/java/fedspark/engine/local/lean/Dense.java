package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static fedspark.engine.local.lean.Buffers.relu;
import static fedspark.engine.local.lean.Buffers.reluGradient;
import static fedspark.engine.local.lean.Dnnl.sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;

import java.nio.FloatBuffer;

/**
 * A dense layer, ReLU or none (output). Seen row-major, as oneDNN's sgemm takes matrices: an activation block X is
 * batch x in (one example after another), and DL4J's W ('f'-ordered [in, out]) is out x in; so A = X W^T + b,
 * dX = dZ W, dW = dZ^T X.
 */
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
    // Heap copies for the element-wise work (see Buffers): the output block, its gradient, the biases.
    private float[] outStage = new float[0];
    private float[] dOutStage = new float[0];
    private final float[] biasStage;

    Dense(int in, int out, boolean relu) {
        this.in = in;
        this.out = out;
        this.relu = relu;
        this.biasStage = new float[out];
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
        sgemm('N', 'T', batch, out, in, 1f, x, in, weights, in, 0f, a, out);
        int size = out * batch;
        float[] z = outStage.length >= size ? outStage : new float[size];
        outStage = z;
        a.get(0, z, 0, size);
        biases.get(0, biasStage);
        float[] b = biasStage;
        for (int j = 0; j < size; j += out) {
            for (int k = 0; k < out; k++) {
                z[j + k] = relu ? relu(z[j + k] + b[k]) : z[j + k] + b[k];
            }
        }
        a.put(0, z, 0, size);
    }

    public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
        int size = out * batch;
        FloatBuffer delta = dA;
        if (relu) {
            if (dz == null || dz.capacity() < size) {
                dz = allocate(size);
            }
            float[] activation = outStage.length >= size ? outStage : new float[size];
            outStage = activation;
            float[] gradient = dOutStage.length >= size ? dOutStage : new float[size];
            dOutStage = gradient;
            a.get(0, activation, 0, size);
            dA.get(0, gradient, 0, size);
            for (int i = 0; i < size; i++) {
                gradient[i] = reluGradient(activation[i], gradient[i]);
            }
            dz.put(0, gradient, 0, size);
            delta = dz;
        }
        if (dX != null) {
            sgemm('N', 'N', batch, in, out, 1f, delta, out, weights, in, 0f, dX, in);
        }
        FloatBuffer wt = update.intoTarget() ? weightTarget : weights;
        FloatBuffer bt = update.intoTarget() ? biasTarget : biases;
        sgemm('T', 'N', out, in, batch, update.alpha(), delta, out, x, in, update.beta(), wt, in);
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
