package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static fedspark.engine.local.lean.Dnnl.desc;
import static fedspark.engine.local.lean.Dnnl.floats;
import static fedspark.engine.local.lean.Dnnl.memory;
import static fedspark.engine.local.lean.Dnnl.point;
import static fedspark.engine.local.lean.Dnnl.primitive;
import static fedspark.engine.local.lean.Dnnl.primitiveDesc;
import static fedspark.engine.local.lean.Dnnl.query;
import static fedspark.engine.local.lean.Dnnl.same;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_data_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_weights_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_oihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;

import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.FloatPointer;
import org.deeplearning4j.nn.conf.ConvolutionMode;

import fedspark.engine.local.lean.Dnnl.Call;

/**
 * A 2-D convolution with ReLU computed by oneDNN; parameters in DL4J's layout (b, then W [out, in, kh, kw] in 'c'
 * order, which is oneDNN's oihw). Activations outside are NCHW per example unless {@link #inputHeldAs} or
 * {@link #outputHeldAs} say the layers around hold them in a blocked layout. Inside, each primitive works in the
 * layout oneDNN chooses for it (channels blocked by the vector width, where its JIT kernels run near the machine's
 * arithmetic peak); reorders bring inputs into and results out of those layouts, and are skipped where a chosen
 * layout is the one outside. The forward pass fuses the bias and the ReLU; the backward pass applies the ReLU's
 * gradient (from the output, as DL4J's; or a max pooling after it does, {@link #leaveReluGradientToPooling}), then
 * computes the weight and bias gradients and dLoss/dInput.
 *
 * <p>Primitives are built for a number of examples: one set per chunk size met (the minibatch, an epoch's shorter
 * last batch, evaluation chunks), at most {@link #CHUNK} examples a call, and kept while the layer lives; the
 * buffers in the chosen layouts are shared by all of them and grow to the largest chunk.
 */
final class Convolution implements LeanLayer {
    /** Most examples a primitive call takes: bounds the buffers in oneDNN's layouts whatever the batch. */
    static final int CHUNK = 128;

    private final int inChannels;
    private final int height;
    private final int width;
    final int outChannels;
    private final int kh;
    private final int kw;
    private final long[] strides;
    private final long[] padBefore;
    private final long[] padAfter;
    final int outHeight;
    final int outWidth;
    private dnnl_stream stream; // made with the first plan: building a layer (LeanNetwork.supports) loads no oneDNN
    private final Map<Integer, Plan> plans = new HashMap<>();
    // Buffers in the primitives' layouts, shared by the plans (each call points its memories at them again).
    private final Scratch srcScratch = new Scratch();
    private final Scratch kernelScratch = new Scratch();
    private final Scratch dstScratch = new Scratch();
    private final Scratch srcForWeightsScratch = new Scratch();
    private final Scratch diffDstScratch = new Scratch();
    private final Scratch diffDstForDataScratch = new Scratch();
    private final Scratch kernelForDataScratch = new Scratch();
    private final Scratch diffWeightsScratch = new Scratch();
    private final Scratch diffSrcScratch = new Scratch();
    private FloatBuffer biases;
    private FloatBuffer weights;
    private FloatBuffer biasTarget;
    private FloatBuffer weightTarget;
    private FloatBuffer weightGradient;
    private FloatBuffer biasGradient;
    private FloatBuffer chunkWeightGradient; // a later chunk's gradients, added to the first's
    private FloatBuffer chunkBiasGradient;
    private FloatBuffer dz; // dLoss/d(pre-activation) of a chunk, in the output's layout
    private float[] weightStage;
    private float[] weightGradientStage;
    private int srcHeld = -1; // the first example of the chunk whose input is in srcScratch, or -1
    // How the layers before and after hold this layer's input and output (format tags; see LeanNetwork.exchangeLayouts).
    private int inputLayout = dnnl_nchw;
    private int outputLayout = dnnl_nchw;
    private int chosenOutput = -1; // chosenOutputLayout's answer
    private boolean reluGradientByPooling; // see leaveReluGradientToPooling

    Convolution(int inChannels, int height, int width, int outChannels, int[] kernel, int[] stride, int[] padding, ConvolutionMode mode) {
        this.inChannels = inChannels;
        this.height = height;
        this.width = width;
        this.outChannels = outChannels;
        this.kh = kernel[0];
        this.kw = kernel[1];
        int padTop;
        int padLeft;
        if (mode == ConvolutionMode.Same) {
            outHeight = (height + stride[0] - 1) / stride[0];
            outWidth = (width + stride[1] - 1) / stride[1];
            padTop = Math.max(0, ((outHeight - 1) * stride[0] + kh - height) / 2);
            padLeft = Math.max(0, ((outWidth - 1) * stride[1] + kw - width) / 2);
        } else if (mode == ConvolutionMode.Truncate || mode == ConvolutionMode.Strict) {
            padTop = padding[0];
            padLeft = padding[1];
            outHeight = (height + 2 * padTop - kh) / stride[0] + 1;
            outWidth = (width + 2 * padLeft - kw) / stride[1] + 1;
        } else {
            throw new UnsupportedOperationException("convolution mode " + mode);
        }
        // What the last window reaches past the input (Same: the rest of the padding; Truncate: the bottom padding,
        // or less where the stride leaves input rows unread, which oneDNN takes as negative padding).
        int padBottom = (outHeight - 1) * stride[0] + kh - height - padTop;
        int padRight = (outWidth - 1) * stride[1] + kw - width - padLeft;
        if (padBottom < 0 || padRight < 0) {
            throw new UnsupportedOperationException("convolution whose stride leaves input rows or columns unread");
        }
        strides = new long[] {stride[0], stride[1]};
        padBefore = new long[] {padTop, padLeft};
        padAfter = new long[] {padBottom, padRight};
    }

    public int inSize() {
        return inChannels * height * width;
    }

    public int outSize() {
        return outChannels * outHeight * outWidth;
    }

    public int parameterCount() {
        return outChannels + outChannels * inChannels * kh * kw;
    }

    public void bind(FloatBuffer p, FloatBuffer target, int offset) {
        int weightCount = outChannels * inChannels * kh * kw;
        biases = p.slice(offset, outChannels);
        weights = p.slice(offset + outChannels, weightCount);
        biasTarget = target.slice(offset, outChannels);
        weightTarget = target.slice(offset + outChannels, weightCount);
        if (weightGradient == null) {
            weightGradient = allocate(weightCount);
            biasGradient = allocate(outChannels);
            weightStage = new float[weightCount];
            weightGradientStage = new float[weightCount];
        }
    }

    public void forward(FloatBuffer x, FloatBuffer a, int batch) {
        for (int first = 0; first < batch; first += CHUNK) {
            Plan plan = plan(Math.min(CHUNK, batch - first));
            plan.src.in(x, first * inSize());
            plan.kernel.in(weights, 0);
            point(plan.bias, biases, 0);
            plan.dst.before(a, first * outSize());
            plan.forward.run(stream);
            plan.dst.after();
            srcHeld = first;
        }
    }

    public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
        // Chunks last to first: the forward pass left the last chunk's input in the primitive's layout.
        int last = (batch - 1) / CHUNK * CHUNK;
        for (int first = last; first >= 0; first -= CHUNK) {
            int count = Math.min(CHUNK, batch - first);
            Plan plan = plan(count);
            plan.backward(x, a, dA, dX, first, first == last);
            if (first != last) {
                add(chunkWeightGradient, weightGradient);
                add(chunkBiasGradient, biasGradient);
            }
        }
        // Applied after every chunk's dX, which needs the weights of the forward pass.
        FloatBuffer wt = update.intoTarget() ? weightTarget : weights;
        FloatBuffer bt = update.intoTarget() ? biasTarget : biases;
        float alpha = update.alpha();
        float beta = update.beta();
        wt.get(0, weightStage);
        weightGradient.get(0, weightGradientStage);
        for (int i = 0; i < weightStage.length; i++) {
            weightStage[i] = beta * weightStage[i] + alpha * weightGradientStage[i];
        }
        wt.put(0, weightStage);
        for (int c = 0; c < outChannels; c++) {
            bt.put(c, beta * bt.get(c) + alpha * biasGradient.get(c));
        }
    }

    /** total += part, element by element, on the update's stages (free until the update after every chunk). */
    private void add(FloatBuffer part, FloatBuffer total) {
        int n = total.capacity();
        part.get(0, weightGradientStage, 0, n);
        total.get(0, weightStage, 0, n);
        for (int i = 0; i < n; i++) {
            weightStage[i] += weightGradientStage[i];
        }
        total.put(0, weightStage, 0, n);
    }

    private Plan plan(int examples) {
        if (stream == null) {
            stream = Dnnl.stream();
        }
        return plans.computeIfAbsent(examples, Plan::new);
    }

    /**
     * The layout the forward primitive chooses for its output on {@code examples} examples, as a format tag: a blocked
     * layout (or nhwc) that holds each example in {@code outSize()} floats, one after the other as in nchw, else nchw.
     * Asked once; chunks of other sizes choose the same on the machines measured, and reorder where they do not.
     */
    int chosenOutputLayout(int examples) {
        if (chosenOutput < 0) {
            int n = Math.min(CHUNK, examples);
            dnnl_primitive_desc pd = forwardPd(n);
            chosenOutput = Dnnl.sameSizeTag(query(pd, dnnl_query_dst_md), n, outChannels, outHeight, outWidth);
            Dnnl.check(org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy(pd), "releasing a primitive description");
        }
        return chosenOutput;
    }

    /** The layout (a format tag) in which the layer before holds this layer's input; before any call. */
    void inputHeldAs(int layout) {
        checkNoPlans();
        inputLayout = layout;
    }

    /** The layout (a format tag) in which the layer after takes this layer's output; before any call. */
    void outputHeldAs(int layout) {
        checkNoPlans();
        outputLayout = layout;
    }

    /**
     * The max pooling after this layer applies ReLU's gradient to its own output's gradient ({@link MaxPooling#applyReluGradient}),
     * where it touches a quarter of the values (2x2 windows); this layer's backward pass takes its dOut as dLoss/d(pre-activation).
     * Before any call.
     */
    void leaveReluGradientToPooling() {
        checkNoPlans();
        reluGradientByPooling = true;
    }

    private void checkNoPlans() {
        if (!plans.isEmpty()) {
            throw new IllegalStateException("a layout set after the first call");
        }
    }

    private dnnl_primitive_desc forwardPd(int examples) {
        dnnl_convolution_desc_t operation = new dnnl_convolution_desc_t();
        Dnnl.check(dnnl_convolution_forward_desc_init(operation, dnnl_forward_training, dnnl_convolution_direct,
                desc(dnnl_format_tag_any, examples, inChannels, height, width), desc(dnnl_format_tag_any, outChannels, inChannels, kh, kw),
                desc(dnnl_x, outChannels), desc(dnnl_format_tag_any, examples, outChannels, outHeight, outWidth), strides, padBefore,
                padAfter), "describing a convolution");
        return primitiveDesc(operation, Dnnl.thenRelu(), null, "choosing a convolution");
    }

    /** Grows a native buffer for a primitive's layout of a tensor; memories are pointed at it before each call. */
    private static final class Scratch {
        private FloatPointer floats;
        private long size;

        FloatPointer atLeast(long count) {
            if (count > size) {
                floats = new FloatPointer(count);
                size = count;
            }
            return floats;
        }
    }

    /**
     * A tensor as our buffers hold it (the layout the layers exchange, or oihw) and as a primitive wants it, with the
     * reorder between them; one memory and no reorder where the two layouts are the same.
     */
    private final class Operand {
        final dnnl_memory held;
        final dnnl_memory inner;
        private final Call reorder;
        private final Scratch scratch;
        private final long innerFloats;

        /** {@code input}: the reorder runs held to inner before the call; otherwise inner to held after it. */
        Operand(dnnl_memory_desc_t heldDesc, dnnl_memory_desc_t innerDesc, boolean input, Scratch scratch) {
            held = memory(heldDesc);
            this.scratch = scratch;
            innerFloats = floats(innerDesc);
            if (same(heldDesc, innerDesc)) {
                inner = held;
                reorder = null;
            } else {
                inner = memory(innerDesc);
                reorder = input ? Dnnl.reorder(heldDesc, held, innerDesc, inner) : Dnnl.reorder(innerDesc, inner, heldDesc, held);
            }
        }

        /** An input: points at {@code buffer} from {@code offset} and brings it into the primitive's layout. */
        void in(FloatBuffer buffer, int offset) {
            point(held, buffer, offset);
            if (reorder != null) {
                point(inner, scratch.atLeast(innerFloats));
                reorder.run(stream);
            }
        }

        /** An output, before the call: where the primitive writes, {@link #after} to bring it into {@code buffer}. */
        void before(FloatBuffer buffer, int offset) {
            point(held, buffer, offset);
            if (reorder != null) {
                point(inner, scratch.atLeast(innerFloats));
            }
        }

        void after() {
            if (reorder != null) {
                reorder.run(stream);
            }
        }
    }

    /** The primitives, memories and reorders for chunks of {@code examples} examples. */
    private final class Plan {
        private final int examples;
        private final dnnl_primitive_desc forwardPd; // kept: the layouts the operands were built from live in it
        final Operand src;
        final Operand kernel; // the weights in the forward primitive's layout
        final dnnl_memory bias;
        final Operand dst;
        final Call forward;
        private final dnnl_memory reluDst;
        private final dnnl_memory reluDiffDst;
        private final dnnl_memory reluDiffSrc;
        private final Call relu; // null where the pooling after applies ReLU's gradient
        private final dnnl_primitive_desc weightsPd;
        private final Operand srcForWeights; // null: the forward pass's src layout
        private final Operand diffDst;
        private final Operand diffWeights;
        private final dnnl_memory diffBias;
        private final Call backwardWeights;
        private dnnl_primitive_desc dataPd; // backward data, built when a layer first needs dLoss/dInput
        private Operand diffDstForData; // null: the weights primitive's diff_dst layout
        private Operand kernelForData;
        private Operand diffSrc;
        private Call backwardData;

        Plan(int examples) {
            this.examples = examples;
            dnnl_memory_desc_t srcAny = desc(dnnl_format_tag_any, examples, inChannels, height, width);
            dnnl_memory_desc_t weightsAny = desc(dnnl_format_tag_any, outChannels, inChannels, kh, kw);
            dnnl_memory_desc_t biasPlain = desc(dnnl_x, outChannels);
            dnnl_memory_desc_t dstAny = desc(dnnl_format_tag_any, examples, outChannels, outHeight, outWidth);
            dnnl_memory_desc_t srcHeld = desc(inputLayout, examples, inChannels, height, width);
            dnnl_memory_desc_t weightsPlain = desc(dnnl_oihw, outChannels, inChannels, kh, kw);
            dnnl_memory_desc_t dstHeld = desc(outputLayout, examples, outChannels, outHeight, outWidth);
            forwardPd = forwardPd(examples);
            src = new Operand(srcHeld, query(forwardPd, dnnl_query_src_md), true, srcScratch);
            kernel = new Operand(weightsPlain, query(forwardPd, dnnl_query_weights_md), true, kernelScratch);
            bias = memory(biasPlain);
            dst = new Operand(dstHeld, query(forwardPd, dnnl_query_dst_md), false, dstScratch);
            forward = new Call(primitive(forwardPd, "creating a convolution"), "convolution",
                    new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}, src.inner, kernel.inner, bias, dst.inner);

            if (reluGradientByPooling) {
                reluDst = null;
                reluDiffDst = null;
                reluDiffSrc = null;
                relu = null;
            } else {
                long values = (long) examples * outSize();
                reluDst = Dnnl.flatMemory(values);
                reluDiffDst = Dnnl.flatMemory(values);
                reluDiffSrc = Dnnl.flatMemory(values);
                relu = Dnnl.reluGradient(values, reluDst, reluDiffDst, reluDiffSrc);
            }

            dnnl_convolution_desc_t weightsOperation = new dnnl_convolution_desc_t();
            Dnnl.check(dnnl_convolution_backward_weights_desc_init(weightsOperation, dnnl_convolution_direct, srcAny, weightsAny, biasPlain,
                    dstAny, strides, padBefore, padAfter), "describing a convolution's weight gradient");
            weightsPd = primitiveDesc(weightsOperation, null, forwardPd, "choosing a convolution's weight gradient");
            dnnl_memory_desc_t srcForWeightsDesc = query(weightsPd, dnnl_query_src_md);
            srcForWeights = same(srcForWeightsDesc, query(forwardPd, dnnl_query_src_md)) ? null
                    : new Operand(srcHeld, srcForWeightsDesc, true, srcForWeightsScratch);
            diffDst = new Operand(dstHeld, query(weightsPd, dnnl_query_diff_dst_md), true, diffDstScratch);
            diffWeights = new Operand(weightsPlain, query(weightsPd, dnnl_query_diff_weights_md), false, diffWeightsScratch);
            diffBias = memory(biasPlain);
            backwardWeights = new Call(primitive(weightsPd, "creating a convolution's weight gradient"), "convolution weight gradient",
                    new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS},
                    srcForWeights == null ? src.inner : srcForWeights.inner, diffDst.inner, diffWeights.inner, diffBias);
        }

        private void buildBackwardData() {
            dnnl_memory_desc_t srcAny = desc(dnnl_format_tag_any, examples, inChannels, height, width);
            dnnl_memory_desc_t weightsAny = desc(dnnl_format_tag_any, outChannels, inChannels, kh, kw);
            dnnl_memory_desc_t dstAny = desc(dnnl_format_tag_any, examples, outChannels, outHeight, outWidth);
            dnnl_convolution_desc_t operation = new dnnl_convolution_desc_t();
            Dnnl.check(dnnl_convolution_backward_data_desc_init(operation, dnnl_convolution_direct, srcAny, weightsAny, dstAny, strides,
                    padBefore, padAfter), "describing a convolution's input gradient");
            dataPd = primitiveDesc(operation, null, forwardPd, "choosing a convolution's input gradient");
            dnnl_memory_desc_t diffDstDesc = query(dataPd, dnnl_query_diff_dst_md);
            diffDstForData = same(diffDstDesc, query(weightsPd, dnnl_query_diff_dst_md)) ? null
                    : new Operand(desc(outputLayout, examples, outChannels, outHeight, outWidth), diffDstDesc, true, diffDstForDataScratch);
            kernelForData = new Operand(desc(dnnl_oihw, outChannels, inChannels, kh, kw), query(dataPd, dnnl_query_weights_md), true,
                    kernelForDataScratch);
            diffSrc = new Operand(desc(inputLayout, examples, inChannels, height, width), query(dataPd, dnnl_query_diff_src_md), false,
                    diffSrcScratch);
            backwardData = new Call(primitive(dataPd, "creating a convolution's input gradient"), "convolution input gradient",
                    new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                    diffDstForData == null ? diffDst.inner : diffDstForData.inner, kernelForData.inner, diffSrc.inner);
        }

        /** One chunk's gradients into the layer's gradient buffers ({@code firstChunk}) or the chunk buffers; its dX. */
        void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int first, boolean firstChunk) {
            FloatBuffer gradient = dA; // dLoss/d(pre-activation), from gradientOffset on
            int gradientOffset = first * outSize();
            if (relu != null) {
                int values = examples * outSize();
                if (dz == null || dz.capacity() < values) {
                    dz = allocate(values);
                }
                point(reluDst, a, first * outSize());
                point(reluDiffDst, dA, first * outSize());
                point(reluDiffSrc, dz, 0);
                relu.run(stream);
                gradient = dz;
                gradientOffset = 0;
            }
            diffDst.in(gradient, gradientOffset);
            if (srcForWeights != null) {
                srcForWeights.in(x, first * inSize());
            } else if (srcHeld != first) {
                src.in(x, first * inSize());
                srcHeld = first;
            }
            if (!firstChunk && chunkWeightGradient == null) {
                chunkWeightGradient = allocate(weightGradient.capacity());
                chunkBiasGradient = allocate(outChannels);
            }
            diffWeights.before(firstChunk ? weightGradient : chunkWeightGradient, 0);
            point(diffBias, firstChunk ? biasGradient : chunkBiasGradient, 0);
            backwardWeights.run(stream);
            diffWeights.after();
            if (dX != null) {
                if (backwardData == null) {
                    buildBackwardData();
                }
                if (diffDstForData != null) {
                    diffDstForData.in(gradient, gradientOffset);
                }
                kernelForData.in(weights, 0);
                diffSrc.before(dX, first * inSize());
                backwardData.run(stream);
                diffSrc.after();
            }
        }
    }
}
