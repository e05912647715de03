package fedspark.engine;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import fedspark.data.ClientShard;

/**
 * The SGD step of a DL4J network of dense ReLU layers and a softmax cross-entropy output, computed
 * directly with OpenBLAS (the library nd4j itself uses) on buffers allocated once: per step, three
 * sgemm calls a layer and a few loops, none of DL4J's per-call machinery. It reads the layer sizes from
 * the DL4J configuration and uses DL4J's parameter layout, so DL4J stays the definition of the model;
 * a test checks its updates against DL4J's {@code fit()}.
 *
 * <p>Matrices are column-major: an activation block is features x batch (one example per column, as the
 * shard stores them), a weight matrix is in x out (DL4J's 'f'-ordered [nIn, nOut]).
 */
final class DenseTrainer implements LocalTrainer {

    // DL4J's LossMCXENT clips softmax outputs to [eps, 1 - eps] before the loss and its gradient.
    private static final float CLIP_LOW = 1e-10f;
    private static final float CLIP_HIGH = (float) (1.0 - 1e-10);

    private final int[] widths; // widths[0] = input features, widths[L] = classes
    private final float learningRate;
    private final int parameterCount;
    private final FloatBuffer parameters;
    private final FloatBuffer[] weights;
    private final FloatBuffer[] biases;
    private FloatBuffer[] activations; // activations[l]: widths[l] x capacity; activations[0] is the input
    private FloatBuffer[] deltas;      // deltas[l]: dLoss/dZ of layer l, widths[l + 1] x capacity
    private FloatBuffer backpropagated;
    private int capacity;

    /** True when every layer of {@code conf} has a lean implementation here. */
    static boolean supports(MultiLayerConfiguration conf) {
        int layers = conf.getConfs().size();
        for (int l = 0; l < layers; l++) {
            Layer layer = conf.getConf(l).getLayer();
            boolean last = l == layers - 1;
            boolean plain = layer instanceof BaseLayer base && base.getIUpdater() instanceof Sgd
                    && base.getRegularization().isEmpty() && base.getRegularizationBias().isEmpty()
                    && layer.getIDropout() == null && base.getWeightNoise() == null
                    && conf.getInputPreProcess(l) == null;
            if (!plain) {
                return false;
            }
            if (!last && !(layer.getClass() == DenseLayer.class && ((DenseLayer) layer).getActivationFn() instanceof ActivationReLU
                    && ((DenseLayer) layer).hasBias())) {
                return false;
            }
            if (last && !(layer.getClass() == OutputLayer.class && ((OutputLayer) layer).getActivationFn() instanceof ActivationSoftmax
                    && ((OutputLayer) layer).getLossFn() instanceof LossMCXENT mcxent && mcxent.getWeights() == null
                    && ((OutputLayer) layer).hasBias())) {
                return false;
            }
        }
        return layers > 0;
    }

    DenseTrainer(MultiLayerConfiguration conf) {
        if (!supports(conf)) {
            throw new IllegalArgumentException("not a network of dense ReLU layers and a softmax output trained by plain SGD");
        }
        int layers = conf.getConfs().size();
        widths = new int[layers + 1];
        for (int l = 0; l < layers; l++) {
            org.deeplearning4j.nn.conf.layers.FeedForwardLayer layer = (org.deeplearning4j.nn.conf.layers.FeedForwardLayer) conf.getConf(l).getLayer();
            widths[l] = (int) layer.getNIn();
            widths[l + 1] = (int) layer.getNOut();
        }
        learningRate = (float) ((Sgd) ((BaseLayer) conf.getConf(0).getLayer()).getIUpdater()).getLearningRate();
        int count = 0;
        for (int l = 0; l < layers; l++) {
            count += widths[l] * widths[l + 1] + widths[l + 1];
        }
        parameterCount = count;
        parameters = allocate(count);
        weights = new FloatBuffer[layers];
        biases = new FloatBuffer[layers];
        int offset = 0;
        for (int l = 0; l < layers; l++) {
            weights[l] = slice(parameters, offset, widths[l] * widths[l + 1]);
            offset += widths[l] * widths[l + 1];
            biases[l] = slice(parameters, offset, widths[l + 1]);
            offset += widths[l + 1];
        }
        ensureCapacity(16);
    }

    @Override
    public void setParameters(float[] flat) {
        if (flat.length != parameterCount) {
            throw new IllegalArgumentException("the model has " + parameterCount + " parameters, the vector " + flat.length);
        }
        parameters.put(0, flat);
    }

    @Override
    public float[] parameters() {
        float[] flat = new float[parameterCount];
        parameters.get(0, flat);
        return flat;
    }

    @Override
    public double step(ClientShard shard, int[] order, int from, int to) {
        int batch = to - from;
        ensureCapacity(batch);
        int layers = weights.length;
        int d = widths[0];
        if (shard.featureSize() != d) {
            throw new IllegalArgumentException("client " + shard.client() + " has " + shard.featureSize() + " features, the model takes " + d);
        }
        FloatBuffer input = activations[0];
        for (int i = 0; i < batch; i++) {
            input.put(i * d, shard.features(), order[from + i] * d, d);
        }
        // Forward: Z = W^T A + b, ReLU on hidden layers.
        for (int l = 0; l < layers; l++) {
            int in = widths[l];
            int out = widths[l + 1];
            FloatBuffer a = activations[l + 1];
            cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, out, batch, in, 1f, weights[l], in, activations[l], in, 0f, a, out);
            boolean hidden = l < layers - 1;
            for (int j = 0; j < batch; j++) {
                for (int k = 0; k < out; k++) {
                    float z = a.get(j * out + k) + biases[l].get(k);
                    a.put(j * out + k, hidden && z <= 0f ? 0f : z);
                }
            }
        }
        // Softmax cross-entropy: loss and dLoss/dZ = (p - y) / batch, as DL4J averages over the minibatch.
        int classes = widths[layers];
        FloatBuffer logits = activations[layers];
        FloatBuffer delta = deltas[layers - 1];
        double lossSum = 0;
        for (int j = 0; j < batch; j++) {
            int base = j * classes;
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                max = Math.max(max, logits.get(base + k));
            }
            float sum = 0f;
            for (int k = 0; k < classes; k++) {
                float e = (float) Math.exp(logits.get(base + k) - max);
                logits.put(base + k, e);
                sum += e;
            }
            int label = shard.labels()[order[from + j]];
            for (int k = 0; k < classes; k++) {
                float p = Math.min(Math.max(logits.get(base + k) / sum, CLIP_LOW), CLIP_HIGH);
                if (k == label) {
                    lossSum -= Math.log(p);
                }
                delta.put(base + k, ((k == label ? p - 1f : p)) / batch);
            }
        }
        // Backward, last layer first: propagate through W before W changes, then W -= lr A delta^T, b -= lr sum(delta).
        for (int l = layers - 1; l >= 0; l--) {
            int in = widths[l];
            int out = widths[l + 1];
            FloatBuffer dz = deltas[l];
            if (l > 0) {
                cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, in, batch, out, 1f, weights[l], in, dz, out, 0f, backpropagated, in);
                FloatBuffer below = deltas[l - 1];
                FloatBuffer a = activations[l];
                for (int i = 0; i < in * batch; i++) {
                    below.put(i, a.get(i) > 0f ? backpropagated.get(i) : 0f);
                }
            }
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, in, out, batch, -learningRate, activations[l], in, dz, out, 1f, weights[l], in);
            FloatBuffer b = biases[l];
            for (int k = 0; k < out; k++) {
                float g = 0f;
                for (int j = 0; j < batch; j++) {
                    g += dz.get(j * out + k);
                }
                b.put(k, b.get(k) - learningRate * g);
            }
        }
        return lossSum / batch;
    }

    private void ensureCapacity(int batch) {
        if (batch <= capacity) {
            return;
        }
        int layers = weights.length;
        activations = new FloatBuffer[layers + 1];
        deltas = new FloatBuffer[layers];
        int widest = 0;
        for (int l = 0; l <= layers; l++) {
            activations[l] = allocate(widths[l] * batch);
            widest = Math.max(widest, widths[l]);
        }
        for (int l = 0; l < layers; l++) {
            deltas[l] = allocate(widths[l + 1] * batch);
        }
        backpropagated = allocate(widest * batch);
        capacity = batch;
    }

    private static FloatBuffer allocate(int floats) {
        return ByteBuffer.allocateDirect(Math.max(1, floats) * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private static FloatBuffer slice(FloatBuffer buffer, int offset, int length) {
        return buffer.slice(offset, length);
    }
}
