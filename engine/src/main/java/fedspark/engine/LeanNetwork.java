package fedspark.engine;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_saxpy;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import fedspark.data.ClientShard;

/**
 * The SGD step of a DL4J network computed directly with OpenBLAS (the library nd4j itself uses, through
 * the bytedeco binding nd4j ships) on buffers allocated once: dense ReLU layers, 2-D convolutions with
 * ReLU ('same' or no padding, via im2col and sgemm), 2x2-style max pooling, and a softmax cross-entropy
 * output. It reads every size from the DL4J configuration and keeps DL4J's parameter layout (dense W
 * [in, out] in 'f' order then b; convolution b then W [out, in, kh, kw] in 'c' order), so DL4J stays the
 * definition of the model; tests check its updates against DL4J's {@code fit()}.
 *
 * <p>An activation block holds one example after another (NCHW within an example for convolutions).
 */
final class LeanNetwork implements LocalTrainer {

    // DL4J's LossMCXENT clips softmax outputs to [eps, 1 - eps] before the loss and its gradient.
    private static final float CLIP_LOW = 1e-10f;
    private static final float CLIP_HIGH = (float) (1.0 - 1e-10);

    private final List<LeanLayer> layers;
    private final float learningRate;
    private final float momentum;
    private final int parameterCount;
    private final FloatBuffer parameters;
    private final FloatBuffer velocity; // momentum only: v = mu * v + g, then w -= lr * v (PyTorch's SGD), zeroed by setParameters
    private FloatBuffer[] activations; // activations[l]: input of layer l (activations[L] the logits), per example widths[l]
    private FloatBuffer[] gradients;   // gradients[l]: dLoss/d(activations[l])
    private int capacity;

    /** One layer of the lean network: sizes per example, its parameters' place, forward and backward. */
    private interface LeanLayer {
        int inSize();

        int outSize();

        int parameterCount();

        /** Takes this layer's slices of the parameters and of their update target (see {@link #backward}). */
        void bind(FloatBuffer parameters, FloatBuffer velocity, int offset);

        void forward(FloatBuffer in, FloatBuffer out, int batch);

        /**
         * From dLoss/d(out) to dLoss/d(in) (skipped when {@code dIn} is null), computed with the parameters as
         * they were in the forward pass; then, with g the gradient, T = beta * T + alpha * g where T is the
         * parameters themselves (plain SGD: alpha = -lr, beta = 1) or their velocity (momentum: alpha = 1, beta = mu).
         */
        void backward(FloatBuffer in, FloatBuffer out, FloatBuffer dOut, FloatBuffer dIn, int batch, Update update);
    }

    /** How a layer applies its gradient g: target = beta * target + alpha * g, the target the parameters or their velocity. */
    private record Update(float alpha, float beta, boolean intoVelocity) {
    }

    /** Why {@code conf} has no lean implementation (a layer or a setting), or null when it has one. */
    static String unsupported(MultiLayerConfiguration conf) {
        try {
            plan(conf);
            return null;
        } catch (UnsupportedOperationException e) {
            return e.getMessage();
        }
    }

    static boolean supports(MultiLayerConfiguration conf) {
        return unsupported(conf) == null;
    }

    LeanNetwork(MultiLayerConfiguration conf) {
        this(conf, 0);
    }

    /** With {@code momentum} > 0, SGD with momentum as PyTorch computes it (no dampening, not Nesterov). */
    LeanNetwork(MultiLayerConfiguration conf, double momentum) {
        if (momentum < 0 || momentum >= 1) {
            throw new IllegalArgumentException("train.momentum must be in [0, 1), got " + momentum);
        }
        this.momentum = (float) momentum;
        layers = plan(conf);
        learningRate = (float) ((Sgd) ((BaseLayer) conf.getConf(0).getLayer()).getIUpdater()).getLearningRate();
        int count = 0;
        for (LeanLayer layer : layers) {
            count += layer.parameterCount();
        }
        parameterCount = count;
        parameters = allocate(count);
        velocity = momentum > 0 ? allocate(count) : parameters;
        int offset = 0;
        for (LeanLayer layer : layers) {
            layer.bind(parameters, velocity, offset);
            offset += layer.parameterCount();
        }
        ensureCapacity(16);
    }

    private static List<LeanLayer> plan(MultiLayerConfiguration conf) {
        int n = conf.getConfs().size();
        List<LeanLayer> plan = new ArrayList<>();
        InputType type = null;
        for (int l = 0; l < n; l++) {
            Layer layer = conf.getConf(l).getLayer();
            InputPreProcessor pre = conf.getInputPreProcess(l);
            if (pre != null && !(pre instanceof FeedForwardToCnnPreProcessor || pre instanceof CnnToFeedForwardPreProcessor)) {
                throw new UnsupportedOperationException("preprocessor " + pre.getClass().getSimpleName());
            }
            if (pre instanceof FeedForwardToCnnPreProcessor p) {
                type = InputType.convolutional(p.getInputHeight(), p.getInputWidth(), p.getNumChannels());
            }
            if (layer instanceof BaseLayer base && !(base.getIUpdater() instanceof Sgd && base.getRegularization().isEmpty()
                    && base.getRegularizationBias().isEmpty() && base.getWeightNoise() == null
                    && base.getGradientNormalization() == org.deeplearning4j.nn.conf.GradientNormalization.None)) {
                throw new UnsupportedOperationException("layer " + l + ": only plain SGD without regularisation");
            }
            if (layer.getIDropout() != null) {
                throw new UnsupportedOperationException("layer " + l + ": dropout");
            }
            boolean last = l == n - 1;
            if (layer.getClass() == DenseLayer.class && ((DenseLayer) layer).getActivationFn() instanceof ActivationReLU
                    && ((DenseLayer) layer).hasBias() && !last) {
                plan.add(new Dense((int) ((DenseLayer) layer).getNIn(), (int) ((DenseLayer) layer).getNOut(), true));
            } else if (last && layer.getClass() == OutputLayer.class && ((OutputLayer) layer).getActivationFn() instanceof ActivationSoftmax
                    && ((OutputLayer) layer).getLossFn() instanceof LossMCXENT mcxent && mcxent.getWeights() == null
                    && ((OutputLayer) layer).hasBias()) {
                plan.add(new Dense((int) ((OutputLayer) layer).getNIn(), (int) ((OutputLayer) layer).getNOut(), false));
            } else if (layer.getClass() == ConvolutionLayer.class && type instanceof InputType.InputTypeConvolutional in) {
                ConvolutionLayer c = (ConvolutionLayer) layer;
                if (!(c.getActivationFn() instanceof ActivationReLU) || !c.hasBias() || c.getDilation()[0] != 1 || c.getDilation()[1] != 1) {
                    throw new UnsupportedOperationException("layer " + l + ": convolution other than ReLU, with bias, no dilation");
                }
                Conv conv = new Conv((int) in.getChannels(), (int) in.getHeight(), (int) in.getWidth(), (int) c.getNOut(),
                        c.getKernelSize(), c.getStride(), c.getPadding(), c.getConvolutionMode());
                plan.add(conv);
                type = InputType.convolutional(conv.outHeight, conv.outWidth, conv.outChannels);
            } else if (layer.getClass() == SubsamplingLayer.class && type instanceof InputType.InputTypeConvolutional in
                    && ((SubsamplingLayer) layer).getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.MAX
                    && unpadded((SubsamplingLayer) layer, (int) in.getHeight(), (int) in.getWidth())) {
                SubsamplingLayer s = (SubsamplingLayer) layer;
                MaxPool pool = new MaxPool((int) in.getChannels(), (int) in.getHeight(), (int) in.getWidth(), s.getKernelSize(), s.getStride());
                plan.add(pool);
                type = InputType.convolutional(pool.outHeight, pool.outWidth, pool.channels);
            } else {
                throw new UnsupportedOperationException("layer " + l + ": " + layer.getClass().getSimpleName());
            }
            if (pre instanceof CnnToFeedForwardPreProcessor) {
                type = null; // NCHW flattened in 'c' order: exactly how activations are stored
            }
        }
        for (int l = 1; l < plan.size(); l++) {
            if (plan.get(l).inSize() != plan.get(l - 1).outSize()) {
                throw new UnsupportedOperationException("layer " + l + " takes " + plan.get(l).inSize() + " values, layer " + (l - 1)
                        + " gives " + plan.get(l - 1).outSize());
            }
        }
        if (plan.isEmpty()) {
            throw new UnsupportedOperationException("no layers");
        }
        return plan;
    }

    /** True when the pooling windows tile the input without padding (Truncate, or Same where it adds none). */
    private static boolean unpadded(SubsamplingLayer s, int height, int width) {
        int[] k = s.getKernelSize();
        int[] stride = s.getStride();
        if (s.getConvolutionMode() == ConvolutionMode.Same) {
            int outH = (height + stride[0] - 1) / stride[0];
            int outW = (width + stride[1] - 1) / stride[1];
            return (outH - 1) * stride[0] + k[0] == height && (outW - 1) * stride[1] + k[1] == width;
        }
        return (s.getConvolutionMode() == ConvolutionMode.Truncate || s.getConvolutionMode() == ConvolutionMode.Strict)
                && s.getPadding()[0] == 0 && s.getPadding()[1] == 0;
    }

    @Override
    public void setParameters(float[] flat) {
        if (flat.length != parameterCount) {
            throw new IllegalArgumentException("the model has " + parameterCount + " parameters, the vector " + flat.length);
        }
        parameters.put(0, flat);
        if (momentum > 0) {
            velocity.put(0, new float[parameterCount]); // a client's local training starts with no velocity
        }
    }

    @Override
    public float[] parameters() {
        float[] flat = new float[parameterCount];
        parameters.get(0, flat);
        return flat;
    }

    @Override
    public float[] probabilities(ClientShard examples, int[] order, int from, int to) {
        int batch = to - from;
        forward(examples, order, from, to);
        int classes = layers.get(layers.size() - 1).outSize();
        FloatBuffer logits = activations[layers.size()];
        float[] p = new float[batch * classes];
        for (int j = 0; j < batch; j++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                max = Math.max(max, logits.get(j * classes + k));
            }
            float sum = 0f;
            for (int k = 0; k < classes; k++) {
                p[j * classes + k] = (float) Math.exp(logits.get(j * classes + k) - max);
                sum += p[j * classes + k];
            }
            for (int k = 0; k < classes; k++) {
                p[j * classes + k] /= sum;
            }
        }
        return p;
    }

    /** Runs the examples {@code order[from .. to)} forward; the logits are left in {@code activations[L]}. */
    private void forward(ClientShard shard, int[] order, int from, int to) {
        int batch = to - from;
        ensureCapacity(batch);
        int d = layers.get(0).inSize();
        if (shard.featureSize() != d) {
            throw new IllegalArgumentException("client " + shard.client() + " has " + shard.featureSize() + " features, the model takes " + d);
        }
        FloatBuffer input = activations[0];
        for (int i = 0; i < batch; i++) {
            input.put(i * d, shard.features(), order[from + i] * d, d);
        }
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(activations[l], activations[l + 1], batch);
        }
    }

    @Override
    public double step(ClientShard shard, int[] order, int from, int to) {
        int batch = to - from;
        forward(shard, order, from, to);
        int count = layers.size();
        // Softmax cross-entropy: loss and dLoss/dZ = (p - y) / batch, as DL4J averages over the minibatch.
        int classes = layers.get(count - 1).outSize();
        FloatBuffer logits = activations[count];
        FloatBuffer delta = gradients[count];
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
                delta.put(base + k, (k == label ? p - 1f : p) / batch);
            }
        }
        Update update = momentum > 0 ? new Update(1f, momentum, true) : new Update(-learningRate, 1f, false);
        for (int l = count - 1; l >= 0; l--) {
            layers.get(l).backward(activations[l], activations[l + 1], gradients[l + 1], l > 0 ? gradients[l] : null, batch, update);
        }
        if (momentum > 0) {
            cblas_saxpy(parameterCount, -learningRate, velocity, 1, parameters, 1);
        }
        return lossSum / batch;
    }

    private void ensureCapacity(int batch) {
        if (batch <= capacity) {
            return;
        }
        int count = layers.size();
        activations = new FloatBuffer[count + 1];
        gradients = new FloatBuffer[count + 1];
        for (int l = 0; l <= count; l++) {
            int width = l == 0 ? layers.get(0).inSize() : layers.get(l - 1).outSize();
            activations[l] = allocate(width * batch);
            gradients[l] = allocate(width * batch);
        }
        capacity = batch;
    }

    static FloatBuffer allocate(int floats) {
        return ByteBuffer.allocateDirect(Math.max(1, floats) * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private static void zero(FloatBuffer buffer, int from, int count) {
        for (int i = from; i < from + count; i++) {
            buffer.put(i, 0f);
        }
    }

    /*
     * ReLU and its gradient without branches: activations are positive or zero about half the time each,
     * in no order a branch predictor can learn, and the mispredicted branches cost more than the
     * arithmetic (a 2NN step at B = 50 spent 0.15 of its 0.8 ms in them).
     */

    /** max(z, 0); NaN stays NaN. */
    private static float relu(float z) {
        return Math.max(z, 0f);
    }

    /** dOut where the ReLU's output {@code a} is positive, else +0 ({@code a} is never negative or -0). */
    private static float reluGradient(float a, float dOut) {
        int positive = -Float.floatToRawIntBits(a) >> 31; // all ones when a > 0 (or a NaN: the step has diverged), else zero
        return Float.intBitsToFloat(Float.floatToRawIntBits(dOut) & positive);
    }

    /** A dense layer, column-major: activations in x batch, W in x out ('f'-ordered [in, out]); ReLU or none (output). */
    private static final class Dense implements LeanLayer {
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

        public void bind(FloatBuffer p, FloatBuffer v, int offset) {
            weights = p.slice(offset, in * out);
            biases = p.slice(offset + in * out, out);
            weightTarget = v.slice(offset, in * out);
            biasTarget = v.slice(offset + in * out, out);
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
            FloatBuffer wt = update.intoVelocity() ? weightTarget : weights;
            FloatBuffer bt = update.intoVelocity() ? biasTarget : biases;
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

    /** A 2-D convolution with ReLU by im2col and sgemm, per example; row-major W [out, in*kh*kw]. */
    private static final class Conv implements LeanLayer {
        private final int inChannels;
        private final int height;
        private final int width;
        final int outChannels;
        private final int kh;
        private final int kw;
        private final int strideH;
        private final int strideW;
        private final int padTop;
        private final int padLeft;
        final int outHeight;
        final int outWidth;
        private final int patch; // in * kh * kw
        private final int pixels; // outHeight * outWidth
        private FloatBuffer biases;
        private FloatBuffer weights;
        private FloatBuffer biasTarget;
        private FloatBuffer weightTarget;
        private FloatBuffer weightGradient;
        private final float[] biasGradient;
        private FloatBuffer[] columns = new FloatBuffer[0];
        private FloatBuffer dz;
        private FloatBuffer dColumns;

        Conv(int inChannels, int height, int width, int outChannels, int[] kernel, int[] stride, int[] padding, ConvolutionMode mode) {
            this.inChannels = inChannels;
            this.height = height;
            this.width = width;
            this.outChannels = outChannels;
            this.kh = kernel[0];
            this.kw = kernel[1];
            this.strideH = stride[0];
            this.strideW = stride[1];
            if (mode == ConvolutionMode.Same) {
                outHeight = (height + strideH - 1) / strideH;
                outWidth = (width + strideW - 1) / strideW;
                padTop = Math.max(0, ((outHeight - 1) * strideH + kh - height) / 2);
                padLeft = Math.max(0, ((outWidth - 1) * strideW + kw - width) / 2);
            } else if (mode == ConvolutionMode.Truncate || mode == ConvolutionMode.Strict) {
                padTop = padding[0];
                padLeft = padding[1];
                outHeight = (height + 2 * padTop - kh) / strideH + 1;
                outWidth = (width + 2 * padLeft - kw) / strideW + 1;
            } else {
                throw new UnsupportedOperationException("convolution mode " + mode);
            }
            patch = inChannels * kh * kw;
            pixels = outHeight * outWidth;
            biasGradient = new float[outChannels];
        }

        public int inSize() {
            return inChannels * height * width;
        }

        public int outSize() {
            return outChannels * pixels;
        }

        public int parameterCount() {
            return outChannels + outChannels * patch;
        }

        public void bind(FloatBuffer p, FloatBuffer v, int offset) {
            biases = p.slice(offset, outChannels);
            weights = p.slice(offset + outChannels, outChannels * patch);
            biasTarget = v.slice(offset, outChannels);
            weightTarget = v.slice(offset + outChannels, outChannels * patch);
            weightGradient = allocate(outChannels * patch);
            dz = allocate(outChannels * pixels);
            dColumns = allocate(patch * pixels);
        }

        public void forward(FloatBuffer x, FloatBuffer a, int batch) {
            if (columns.length < batch) {
                FloatBuffer[] grown = new FloatBuffer[batch];
                System.arraycopy(columns, 0, grown, 0, columns.length);
                for (int b = columns.length; b < batch; b++) {
                    grown[b] = allocate(patch * pixels);
                }
                columns = grown;
            }
            for (int b = 0; b < batch; b++) {
                im2col(x, b * inSize(), columns[b]);
                FloatBuffer out = a.slice(b * outSize(), outSize());
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, outChannels, pixels, patch, 1f, weights, patch, columns[b], pixels, 0f, out, pixels);
                for (int c = 0; c < outChannels; c++) {
                    float bias = biases.get(c);
                    for (int i = c * pixels; i < (c + 1) * pixels; i++) {
                        out.put(i, relu(out.get(i) + bias));
                    }
                }
            }
        }

        public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
            java.util.Arrays.fill(biasGradient, 0f);
            for (int b = 0; b < batch; b++) {
                int base = b * outSize();
                for (int i = 0; i < outSize(); i++) {
                    dz.put(i, reluGradient(a.get(base + i), dA.get(base + i)));
                }
                for (int c = 0; c < outChannels; c++) {
                    float g = 0f;
                    for (int i = c * pixels; i < (c + 1) * pixels; i++) {
                        g += dz.get(i);
                    }
                    biasGradient[c] += g;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, outChannels, patch, pixels, 1f, dz, pixels, columns[b], pixels,
                        b == 0 ? 0f : 1f, weightGradient, patch);
                if (dX != null) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, patch, pixels, outChannels, 1f, weights, patch, dz, pixels, 0f, dColumns, pixels);
                    col2im(dColumns, dX, b * inSize());
                }
            }
            // Applied after every example's dX, which needs the weights of the forward pass.
            FloatBuffer wt = update.intoVelocity() ? weightTarget : weights;
            FloatBuffer bt = update.intoVelocity() ? biasTarget : biases;
            for (int i = 0; i < outChannels * patch; i++) {
                wt.put(i, update.beta() * wt.get(i) + update.alpha() * weightGradient.get(i));
            }
            for (int c = 0; c < outChannels; c++) {
                bt.put(c, update.beta() * bt.get(c) + update.alpha() * biasGradient[c]);
            }
        }

        /*
         * im2col and col2im walk, for each kernel offset (c, ki, kj) and output row, only the output columns whose
         * input pixel lies inside the image (padding is the rest): no test per element, and with stride 1 the
         * inside span is one contiguous copy.
         */

        /** First output column whose input column oj * strideW + kj - padLeft is inside the image. */
        private int firstInside(int kj) {
            return Math.min(outWidth, Math.max(0, -Math.floorDiv(kj - padLeft, strideW)));
        }

        /** One past the last output column whose input column is inside the image. */
        private int endInside(int kj) {
            return Math.min(outWidth, Math.floorDiv(width - 1 - kj + padLeft, strideW) + 1);
        }

        private void im2col(FloatBuffer x, int offset, FloatBuffer cols) {
            int row = 0;
            for (int c = 0; c < inChannels; c++) {
                for (int ki = 0; ki < kh; ki++) {
                    for (int kj = 0; kj < kw; kj++, row++) {
                        int from = firstInside(kj);
                        int to = Math.max(from, endInside(kj));
                        for (int oi = 0; oi < outHeight; oi++) {
                            int target = row * pixels + oi * outWidth;
                            int ii = oi * strideH + ki - padTop;
                            if (ii < 0 || ii >= height) {
                                zero(cols, target, outWidth);
                                continue;
                            }
                            zero(cols, target, from);
                            int source = offset + (c * height + ii) * width + from * strideW + kj - padLeft;
                            if (strideW == 1 && to > from) {
                                cols.put(target + from, x, source, to - from);
                            } else {
                                for (int oj = from; oj < to; oj++, source += strideW) {
                                    cols.put(target + oj, x.get(source));
                                }
                            }
                            zero(cols, target + to, outWidth - to);
                        }
                    }
                }
            }
        }

        private void col2im(FloatBuffer cols, FloatBuffer dX, int offset) {
            zero(dX, offset, inSize());
            int row = 0;
            for (int c = 0; c < inChannels; c++) {
                for (int ki = 0; ki < kh; ki++) {
                    for (int kj = 0; kj < kw; kj++, row++) {
                        int from = firstInside(kj);
                        int to = endInside(kj);
                        for (int oi = 0; oi < outHeight; oi++) {
                            int ii = oi * strideH + ki - padTop;
                            if (ii < 0 || ii >= height) {
                                continue;
                            }
                            int source = row * pixels + oi * outWidth + from;
                            int at = offset + (c * height + ii) * width + from * strideW + kj - padLeft;
                            for (int oj = from; oj < to; oj++, source++, at += strideW) {
                                dX.put(at, dX.get(at) + cols.get(source));
                            }
                        }
                    }
                }
            }
        }
    }

    /** Max pooling without padding; the gradient goes to the first maximum of each window. */
    private static final class MaxPool implements LeanLayer {
        final int channels;
        private final int height;
        private final int width;
        private final int kh;
        private final int kw;
        private final int strideH;
        private final int strideW;
        final int outHeight;
        final int outWidth;
        private int[] argmax = new int[0];

        MaxPool(int channels, int height, int width, int[] kernel, int[] stride) {
            this.channels = channels;
            this.height = height;
            this.width = width;
            this.kh = kernel[0];
            this.kw = kernel[1];
            this.strideH = stride[0];
            this.strideW = stride[1];
            outHeight = (height - kh) / strideH + 1;
            outWidth = (width - kw) / strideW + 1;
        }

        public int inSize() {
            return channels * height * width;
        }

        public int outSize() {
            return channels * outHeight * outWidth;
        }

        public int parameterCount() {
            return 0;
        }

        public void bind(FloatBuffer p, FloatBuffer v, int offset) {
        }

        public void forward(FloatBuffer x, FloatBuffer a, int batch) {
            if (argmax.length < batch * outSize()) {
                argmax = new int[batch * outSize()];
            }
            int o = 0;
            for (int b = 0; b < batch; b++) {
                int base = b * inSize();
                for (int c = 0; c < channels; c++) {
                    for (int oi = 0; oi < outHeight; oi++) {
                        for (int oj = 0; oj < outWidth; oj++, o++) {
                            int best = base + (c * height + oi * strideH) * width + oj * strideW;
                            float max = x.get(best);
                            for (int ki = 0; ki < kh; ki++) {
                                for (int kj = 0; kj < kw; kj++) {
                                    int at = base + (c * height + oi * strideH + ki) * width + oj * strideW + kj;
                                    float v = x.get(at);
                                    boolean greater = v > max; // selects, not branches: which one wins is data, not pattern
                                    max = greater ? v : max;
                                    best = greater ? at : best;
                                }
                            }
                            a.put(o, max);
                            argmax[o] = best;
                        }
                    }
                }
            }
        }

        public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
            if (dX == null) {
                return;
            }
            zero(dX, 0, batch * inSize());
            for (int o = 0; o < batch * outSize(); o++) {
                dX.put(argmax[o], dX.get(argmax[o]) + dA.get(o));
            }
        }
    }
}
