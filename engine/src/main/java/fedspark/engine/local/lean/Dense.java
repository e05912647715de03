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
    /**
     * From this many weights on, the forward product is computed transposed, A^T = W X^T (the weights as oneDNN's
     * first operand), and A^T turned into A: faster where the weights come from beyond the L2 cache (the McMahan
     * CNN's 3136 x 512 layer at B = 10: its step about 4% faster), slower for small layers (the 2NN's 784 x 200:
     * its step 6-15% slower); docs/benchmarks.md. A size, not a timed choice: a layer orders its sums the same way
     * on every machine whose oneDNN picks the same kernels.
     */
    static final int TRANSPOSED_FORWARD_WEIGHTS = 1 << 18;

    private final int in;
    private final int out;
    private final boolean relu;
    private final boolean transposedForward;
    private FloatBuffer weights;
    private FloatBuffer biases;
    private FloatBuffer weightTarget;
    private FloatBuffer biasTarget;
    private FloatBuffer dz;
    private FloatBuffer ones;
    private FloatBuffer outTransposed; // A^T, batch values an output unit
    // Heap copies for the element-wise work (see Buffers): the output block (and A^T), its gradient, the biases.
    private float[] outStage = new float[0];
    private float[] transposedStage = new float[0];
    private float[] dOutStage = new float[0];
    private final float[] biasStage;

    Dense(int in, int out, boolean relu) {
        this.in = in;
        this.out = out;
        this.relu = relu;
        this.transposedForward = (long) in * out >= TRANSPOSED_FORWARD_WEIGHTS;
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
        int size = out * batch;
        float[] z = outStage.length >= size ? outStage : new float[size];
        outStage = z;
        if (transposedForward) {
            if (outTransposed == null || outTransposed.capacity() < size) {
                outTransposed = allocate(size);
                transposedStage = new float[size];
            }
            sgemm('N', 'T', out, batch, in, 1f, weights, in, x, in, 0f, outTransposed, batch);
            float[] zt = transposedStage;
            outTransposed.get(0, zt, 0, size);
            for (int k = 0; k < out; k++) {
                for (int j = 0; j < batch; j++) {
                    z[j * out + k] = zt[k * batch + j];
                }
            }
        } else {
            sgemm('N', 'T', batch, out, in, 1f, x, in, weights, in, 0f, a, out);
            a.get(0, z, 0, size);
        }
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
