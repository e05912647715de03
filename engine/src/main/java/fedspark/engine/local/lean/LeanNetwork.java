package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_saxpy;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
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
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import fedspark.data.ClientShard;
import fedspark.engine.local.LocalTrainer;
import fedspark.engine.local.StepRule;

/**
 * The local step of a DL4J network computed directly with oneDNN (dense products and convolutions) and OpenBLAS (the
 * library nd4j itself uses: the bias gradients and momentum), through the bytedeco bindings nd4j ships, on buffers
 * allocated once: {@link Dense} ReLU layers, 2-D
 * {@link Convolution}s with ReLU, {@link MaxPooling}, and a {@link SoftmaxCrossEntropy} output. It reads every
 * size from the DL4J configuration and keeps DL4J's parameter layout (dense W [in, out] in 'f' order then b;
 * convolution b then W [out, in, kh, kw] in 'c' order), so DL4J stays the definition of the model; tests check
 * its steps against DL4J's.
 *
 * <p>The {@link StepRule}: plain SGD and momentum are fused into each layer's gradient product (no pass over the
 * parameters of their own); any other rule has the layers write the gradient, then applies the rule.
 *
 * <p>An activation block holds one example after another (NCHW within an example for convolutions, or the blocked
 * layout of {@link #exchangeLayouts} between oneDNN's layers).
 */
public final class LeanNetwork implements LocalTrainer {

    /** Where the layers' gradients go this step. */
    private enum Mode { PLAIN, MOMENTUM, GENERAL }

    private final List<LeanLayer> layers;
    private final int parameterCount;
    private final FloatBuffer parameters;
    private FloatBuffer velocity;  // momentum: v = mu * v + g (PyTorch's SGD), zeroed by setParameters
    private FloatBuffer gradient;  // general rules: the step's gradient
    private float[][] ruleStage;   // general rules: heap copies of parameters, gradient, velocity
    private StepRule rule;
    private Mode mode;
    private FloatBuffer[] activations; // activations[l]: input of layer l (activations[L] the logits), per example widths[l]
    private FloatBuffer[] gradients;   // gradients[l]: dLoss/d(activations[l])
    private int[] labels = new int[0];
    private int capacity;
    private int[] activationLayouts; // of activations[l], decided by the first forward pass (exchangeLayouts)

    /** Why {@code conf} has no lean implementation (a layer or a setting), or null when it has one. */
    public static String unsupported(MultiLayerConfiguration conf) {
        try {
            plan(conf);
            return null;
        } catch (UnsupportedOperationException e) {
            return e.getMessage();
        }
    }

    public static boolean supports(MultiLayerConfiguration conf) {
        return unsupported(conf) == null;
    }

    /** oneDNN's instruction set in this JVM, which decides how the lean step's products and convolutions order their sums. */
    public static String oneDnnKernels() {
        return Dnnl.instructionSet();
    }

    /** Plain SGD at the configuration's learning rate until {@link #setStepRule} says otherwise. */
    public LeanNetwork(MultiLayerConfiguration conf) {
        layers = plan(conf);
        for (int l = 0; l + 1 < layers.size(); l++) {
            if (layers.get(l) instanceof Convolution conv && layers.get(l + 1) instanceof MaxPooling pool) {
                conv.leaveReluGradientToPooling();
                pool.applyReluGradient();
            }
        }
        int count = 0;
        for (LeanLayer layer : layers) {
            count += layer.parameterCount();
        }
        parameterCount = count;
        parameters = allocate(count);
        setStepRule(StepRule.configuredIn(conf));
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
            if (layer.getClass() == DenseLayer.class && plainRelu(((DenseLayer) layer).getActivationFn())
                    && ((DenseLayer) layer).hasBias() && !last) {
                plan.add(new Dense((int) ((DenseLayer) layer).getNIn(), (int) ((DenseLayer) layer).getNOut(), true));
            } else if (last && layer.getClass() == OutputLayer.class && ((OutputLayer) layer).getActivationFn() instanceof ActivationSoftmax
                    && ((OutputLayer) layer).getLossFn() instanceof LossMCXENT mcxent && mcxent.getWeights() == null
                    && ((OutputLayer) layer).hasBias()) {
                plan.add(new Dense((int) ((OutputLayer) layer).getNIn(), (int) ((OutputLayer) layer).getNOut(), false));
            } else if (layer.getClass() == ConvolutionLayer.class && type instanceof InputType.InputTypeConvolutional in) {
                ConvolutionLayer c = (ConvolutionLayer) layer;
                if (!plainRelu(c.getActivationFn()) || !c.hasBias() || c.getDilation()[0] != 1 || c.getDilation()[1] != 1) {
                    throw new UnsupportedOperationException("layer " + l + ": convolution other than ReLU, with bias, no dilation");
                }
                Convolution conv = new Convolution((int) in.getChannels(), (int) in.getHeight(), (int) in.getWidth(), (int) c.getNOut(),
                        c.getKernelSize(), c.getStride(), c.getPadding(), c.getConvolutionMode());
                plan.add(conv);
                type = InputType.convolutional(conv.outHeight, conv.outWidth, conv.outChannels);
            } else if (layer.getClass() == SubsamplingLayer.class && type instanceof InputType.InputTypeConvolutional in
                    && ((SubsamplingLayer) layer).getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.MAX
                    && unpadded((SubsamplingLayer) layer, (int) in.getHeight(), (int) in.getWidth())) {
                SubsamplingLayer s = (SubsamplingLayer) layer;
                MaxPooling pool = new MaxPooling((int) in.getChannels(), (int) in.getHeight(), (int) in.getWidth(), s.getKernelSize(), s.getStride());
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

    /** max(z, 0): DL4J's ReLU without a cap, a threshold other than 0 or a slope below it (those stay with DL4J). */
    private static boolean plainRelu(IActivation activation) {
        return activation instanceof ActivationReLU relu && relu.getMax() == null && zeroOrUnset(relu.getThreshold())
                && zeroOrUnset(relu.getNegativeSlope());
    }

    private static boolean zeroOrUnset(Double value) {
        return value == null || value == 0.0;
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
    public void setStepRule(StepRule rule) {
        Mode next = rule.isPlainSgd() ? Mode.PLAIN : rule.onlyMomentum() ? Mode.MOMENTUM : Mode.GENERAL;
        if (rule.momentum() > 0 && velocity == null) {
            velocity = allocate(parameterCount);
        }
        if (next == Mode.GENERAL && gradient == null) {
            gradient = allocate(parameterCount);
        }
        if (next != mode) {
            FloatBuffer target = switch (next) {
                case PLAIN -> parameters;
                case MOMENTUM -> velocity;
                case GENERAL -> gradient;
            };
            int offset = 0;
            for (LeanLayer layer : layers) {
                layer.bind(parameters, target, offset);
                offset += layer.parameterCount();
            }
            mode = next;
        }
        this.rule = rule;
    }

    @Override
    public void setParameters(float[] flat) {
        if (flat.length != parameterCount) {
            throw new IllegalArgumentException("the model has " + parameterCount + " parameters, the vector " + flat.length);
        }
        parameters.put(0, flat);
        if (velocity != null) {
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
        forward(examples, order, from, to);
        return SoftmaxCrossEntropy.probabilities(activations[layers.size()], layers.get(layers.size() - 1).outSize(), to - from);
    }

    /** Runs the examples {@code order[from .. to)} forward; the logits are left in {@code activations[L]}. */
    private void forward(ClientShard shard, int[] order, int from, int to) {
        int batch = to - from;
        ensureCapacity(batch);
        int d = layers.get(0).inSize();
        if (shard.featureSize() != d) {
            throw new IllegalArgumentException("client " + shard.client() + " has " + shard.featureSize() + " features, the model takes " + d);
        }
        if (activationLayouts == null) {
            exchangeLayouts(batch);
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
        for (int j = 0; j < batch; j++) {
            labels[j] = shard.labels()[order[from + j]];
        }
        double lossSum = SoftmaxCrossEntropy.lossAndGradient(activations[count], labels, layers.get(count - 1).outSize(), batch,
                gradients[count]);
        float lr = (float) rule.learningRate();
        LeanLayer.Update update = switch (mode) {
            case PLAIN -> new LeanLayer.Update(-lr, 1f, false);
            case MOMENTUM -> new LeanLayer.Update(1f, (float) rule.momentum(), true);
            case GENERAL -> new LeanLayer.Update(1f, 0f, true);
        };
        for (int l = count - 1; l >= 0; l--) {
            layers.get(l).backward(activations[l], activations[l + 1], gradients[l + 1], l > 0 ? gradients[l] : null, batch, update);
        }
        switch (mode) {
            case PLAIN -> { }
            case MOMENTUM -> cblas_saxpy(parameterCount, -lr, velocity, 1, parameters, 1);
            case GENERAL -> applyRule();
        }
        return lossSum / batch;
    }

    /** The general rule on heap copies (see Buffers for why): parameters, gradient and velocity in, parameters and velocity out. */
    private void applyRule() {
        if (ruleStage == null) {
            ruleStage = new float[3][parameterCount];
        }
        float[] w = ruleStage[0];
        float[] g = ruleStage[1];
        float[] v = velocity == null ? null : ruleStage[2];
        parameters.get(0, w);
        gradient.get(0, g);
        if (v != null) {
            velocity.get(0, v);
        }
        rule.apply(w, g, v);
        parameters.put(0, w);
        if (v != null) {
            velocity.put(0, v);
        }
    }

    /**
     * Holds the activations between two layers that run on oneDNN's primitives (convolutions, oneDNN's max pooling)
     * in the layout the convolution before them chose for its output: channels in blocks of the vector width, the
     * same number of floats as nchw. A pooling pools them as they are and hands them on; a convolution that chose
     * another layout for its input reorders once. Saves reorders to and from nchw and pools whole vectors
     * (docs/benchmarks.md). The network's input, what dense layers read (the order DL4J flattens) and the logits
     * stay nchw.
     */
    private void exchangeLayouts(int examples) {
        int count = layers.size();
        int[] layouts = new int[count + 1];
        Arrays.fill(layouts, dnnl_nchw);
        for (int l = 0; l + 1 < count; l++) {
            LeanLayer producer = layers.get(l);
            LeanLayer consumer = layers.get(l + 1);
            int produced = producer instanceof Convolution conv ? conv.chosenOutputLayout(examples) : onOneDnn(producer) ? layouts[l] : dnnl_nchw;
            layouts[l + 1] = onOneDnn(consumer) ? produced : dnnl_nchw;
        }
        for (int l = 0; l < count; l++) {
            if (layers.get(l) instanceof Convolution conv) {
                conv.inputHeldAs(layouts[l]);
                conv.outputHeldAs(layouts[l + 1]);
            } else if (layers.get(l) instanceof MaxPooling pool && pool.onOneDnn()) {
                pool.heldAs(layouts[l], layouts[l + 1]);
            }
        }
        activationLayouts = layouts;
    }

    /** Whether a layer's input and output are oneDNN memories, which take any layout. */
    private static boolean onOneDnn(LeanLayer layer) {
        return layer instanceof Convolution || layer instanceof MaxPooling pool && pool.onOneDnn();
    }

    /**
     * How each block of activations is held, the input first and the logits last (oneDNN's format tag names: nchw,
     * nChw16c, ...); decided with the first forward pass, empty before it.
     */
    public List<String> activationLayouts() {
        List<String> names = new ArrayList<>();
        if (activationLayouts != null) {
            for (int layout : activationLayouts) {
                names.add(Dnnl.tagName(layout));
            }
        }
        return names;
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
        labels = new int[batch];
        capacity = batch;
    }
}
