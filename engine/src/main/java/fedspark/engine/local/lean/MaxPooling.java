package fedspark.engine.local.lean;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WORKSPACE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_max;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_workspace_md;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;

import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_pooling_desc_t;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Max pooling without padding; the gradient goes to the first maximum of each window. The 2x2, stride-2 window that
 * tiles its input (the poolings of every shipped model) runs on oneDNN's max pooling, which routes each window's
 * gradient to the same input as the Java loops, bit for bit, in about a third of their time with their copies to and
 * from the heap (both measured once, docs/benchmarks.md); other windows (no shipped model has one) on the Java loops below, which
 * record each window's first maximum going forward. On oneDNN the activations may be in a blocked layout
 * ({@link #heldAs}): it pools them as they are, and hands them on in that layout or in nchw.
 */
final class MaxPooling implements LeanLayer {
    final int channels;
    private final int height;
    private final int width;
    private final int kh;
    private final int kw;
    private final int strideH;
    private final int strideW;
    final int outHeight;
    final int outWidth;
    private int[] argmax = new int[0]; // the Java loops' windows: the input each output came from
    private int capacity;
    // On heap copies: see Buffers for why element-wise work does not index direct buffers. The backward
    // pass reads the forward pass's input and output from here.
    private float[] inStage;
    private float[] outStage;
    private float[] dOutStage;
    private float[] dInStage;
    private dnnl_stream stream; // made with the first plan: building a layer (LeanNetwork.supports) loads no oneDNN
    private final Map<Integer, Plan> plans = new HashMap<>(); // oneDNN's primitives, per number of examples a call
    // How the layers before and after hold this layer's input and output (format tags; see LeanNetwork.exchangeLayouts).
    private int inputLayout = dnnl_nchw;
    private int outputLayout = dnnl_nchw;
    private boolean reluGradient; // see applyReluGradient

    MaxPooling(int channels, int height, int width, int[] kernel, int[] stride) {
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

    public void bind(FloatBuffer p, FloatBuffer target, int offset) {
    }

    public void forward(FloatBuffer x, FloatBuffer a, int batch) {
        if (onOneDnn()) {
            Plan plan = plan(batch);
            Dnnl.point(plan.src, x, 0);
            Dnnl.point(plan.toOutput == null ? plan.dst : plan.output, a, 0);
            plan.forward.run(stream);
            if (plan.toOutput != null) {
                plan.toOutput.run(stream);
            }
            return;
        }
        if (capacity < batch) {
            argmax = new int[batch * outSize()];
            inStage = new float[batch * inSize()];
            outStage = new float[batch * outSize()];
            dOutStage = new float[batch * outSize()];
            dInStage = new float[batch * inSize()];
            capacity = batch;
        }
        x.get(0, inStage, 0, batch * inSize());
        forwardAny(batch * channels);
        a.put(0, outStage, 0, batch * outSize());
    }

    private void forwardAny(int planes) {
        int o = 0;
        for (int plane = 0; plane < planes; plane++) {
            int base = plane * height * width;
            for (int oi = 0; oi < outHeight; oi++) {
                for (int oj = 0; oj < outWidth; oj++, o++) {
                    int best = base + oi * strideH * width + oj * strideW;
                    float max = inStage[best];
                    for (int ki = 0; ki < kh; ki++) {
                        int at = base + (oi * strideH + ki) * width + oj * strideW;
                        for (int kj = 0; kj < kw; kj++, at++) {
                            float v = inStage[at];
                            boolean greater = v > max; // selects, not branches: which one wins is data, not pattern
                            max = greater ? v : max;
                            best = greater ? at : best;
                        }
                    }
                    outStage[o] = max;
                    argmax[o] = best;
                }
            }
        }
    }

    public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
        if (dX == null) {
            return;
        }
        if (onOneDnn()) {
            Plan plan = plan(batch); // the forward pass's: its workspace says where each window's maximum was
            dnnl_memory gradient = plan.fromOutput == null ? plan.diffDst : plan.diffOutput;
            if (reluGradient) {
                Dnnl.point(gradient, plan.masked(a, dA));
            } else {
                Dnnl.point(gradient, dA, 0);
            }
            if (plan.fromOutput != null) {
                plan.fromOutput.run(stream);
            }
            Dnnl.point(plan.diffSrc, dX, 0);
            plan.backward.run(stream);
            return;
        }
        dA.get(0, dOutStage, 0, batch * outSize());
        if (reluGradient) {
            for (int o = 0; o < batch * outSize(); o++) {
                // As oneDNN's ReLU gradient: kept where the output is > 0 (not -0, which another ReLU kernel may give, or NaN).
                dOutStage[o] = outStage[o] > 0f ? dOutStage[o] : 0f;
            }
        }
        java.util.Arrays.fill(dInStage, 0, batch * inSize(), 0f); // inputs no window reads, or windows that overlap
        for (int o = 0; o < batch * outSize(); o++) {
            dInStage[argmax[o]] += dOutStage[o];
        }
        dX.put(0, dInStage, 0, batch * inSize());
    }

    /** The layouts (format tags) in which the layers before and after hold this layer's input and output; before any call. */
    void heldAs(int input, int output) {
        if (!onOneDnn() || !plans.isEmpty()) {
            throw new IllegalStateException(onOneDnn() ? "layouts set after the first call" : "only oneDNN's pooling takes other layouts");
        }
        inputLayout = input;
        outputLayout = output;
    }

    /**
     * This layer's input is a ReLU's output, whose gradient this layer applies (the layer before leaves it,
     * {@link Convolution#leaveReluGradientToPooling}): a window's gradient is kept where its maximum is positive and
     * zeroed where it is 0. The same gradient reaches each input as ReLU's gradient applied after the pooling's: an
     * input gets gradient only as some window's maximum, and is positive exactly when that maximum is. Before any call.
     */
    void applyReluGradient() {
        if (!plans.isEmpty() || capacity > 0) {
            throw new IllegalStateException("ReLU's gradient taken on after the first call");
        }
        reluGradient = true;
    }

    /** The windows oneDNN pools here: 2x2, stride 2, tiling the input (no row or column left out, no padding). */
    boolean onOneDnn() {
        return kh == 2 && kw == 2 && strideH == 2 && strideW == 2 && height == 2 * outHeight && width == 2 * outWidth;
    }

    private Plan plan(int examples) {
        if (stream == null) {
            stream = Dnnl.stream();
        }
        return plans.computeIfAbsent(examples, Plan::new);
    }

    /**
     * oneDNN's forward (training: it records each window's maximum in a workspace) and backward pooling of {@code examples},
     * in the input's layout; where the output is held in another, reorders to it and from it.
     */
    private final class Plan {
        private final dnnl_primitive_desc forwardPd; // kept: the workspace's layout lives in it
        final dnnl_memory src;
        final dnnl_memory dst;
        final dnnl_memory diffDst;
        final dnnl_memory diffSrc;
        private final BytePointer workspace;
        final Dnnl.Call forward;
        final Dnnl.Call backward;
        final dnnl_memory output; // the output in the next layer's layout, null where that is the input's
        final dnnl_memory diffOutput;
        final Dnnl.Call toOutput;
        final Dnnl.Call fromOutput;
        private final FloatPointer staged; // dst going forward, diffDst going back, where there is an output reorder
        private final int examples;
        // applyReluGradient: the output, its gradient and that gradient masked, as held; built by the first backward
        // pass (evaluation's plans never need them)
        private dnnl_memory reluOutput;
        private dnnl_memory reluDiffOutput;
        private Dnnl.Call relu;
        private FloatPointer masked;

        Plan(int examples) {
            this.examples = examples;
            dnnl_memory_desc_t in = Dnnl.desc(inputLayout, examples, channels, height, width);
            dnnl_memory_desc_t out = Dnnl.desc(inputLayout, examples, channels, outHeight, outWidth);
            long[] window = {kh, kw};
            long[] stride = {strideH, strideW};
            long[] none = {0, 0};
            dnnl_pooling_desc_t forwardOperation = new dnnl_pooling_desc_t();
            Dnnl.check(dnnl_pooling_forward_desc_init(forwardOperation, dnnl_forward_training, dnnl_pooling_max, in, out, stride, window, none, none),
                    "describing a max pooling");
            forwardPd = Dnnl.primitiveDesc(forwardOperation, null, null, "choosing a max pooling");
            dnnl_pooling_desc_t backwardOperation = new dnnl_pooling_desc_t();
            Dnnl.check(dnnl_pooling_backward_desc_init(backwardOperation, dnnl_pooling_max, in, out, stride, window, none, none),
                    "describing a max pooling's gradient");
            dnnl_primitive_desc backwardPd = Dnnl.primitiveDesc(backwardOperation, null, forwardPd, "choosing a max pooling's gradient");
            dnnl_memory_desc_t workspaceDesc = Dnnl.query(forwardPd, dnnl_query_workspace_md);
            src = Dnnl.memory(in);
            dst = Dnnl.memory(out);
            diffDst = Dnnl.memory(out);
            diffSrc = Dnnl.memory(in);
            dnnl_memory workspaceMemory = Dnnl.memory(workspaceDesc);
            workspace = new BytePointer(Math.max(1, org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size(workspaceDesc)));
            Dnnl.check(org.bytedeco.dnnl.global.dnnl.dnnl_memory_set_data_handle(workspaceMemory, workspace), "setting the workspace");
            forward = new Dnnl.Call(Dnnl.primitive(forwardPd, "creating a max pooling"), "max pooling",
                    new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE}, src, dst, workspaceMemory);
            backward = new Dnnl.Call(Dnnl.primitive(backwardPd, "creating a max pooling's gradient"), "max pooling's gradient",
                    new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC}, diffDst, workspaceMemory, diffSrc);
            if (outputLayout == inputLayout) {
                output = null;
                diffOutput = null;
                toOutput = null;
                fromOutput = null;
                staged = null;
            } else {
                dnnl_memory_desc_t held = Dnnl.desc(outputLayout, examples, channels, outHeight, outWidth);
                output = Dnnl.memory(held);
                diffOutput = Dnnl.memory(held);
                staged = new FloatPointer(Dnnl.floats(out));
                Dnnl.point(dst, staged);
                Dnnl.point(diffDst, staged);
                toOutput = Dnnl.reorder(out, dst, held, output);
                fromOutput = Dnnl.reorder(held, diffOutput, out, diffDst);
            }
        }

        /** dOut where this layer's output is > 0, else 0 (ReLU's gradient on the pooled values), in the layout both are held in. */
        FloatPointer masked(FloatBuffer output, FloatBuffer dOutput) {
            if (relu == null) {
                long values = (long) examples * outSize();
                reluOutput = Dnnl.flatMemory(values);
                reluDiffOutput = Dnnl.flatMemory(values);
                dnnl_memory reluDiffInput = Dnnl.flatMemory(values);
                masked = new FloatPointer(values);
                Dnnl.point(reluDiffInput, masked);
                relu = Dnnl.reluGradient(values, reluOutput, reluDiffOutput, reluDiffInput);
            }
            Dnnl.point(reluOutput, output, 0);
            Dnnl.point(reluDiffOutput, dOutput, 0);
            relu.run(stream);
            return masked;
        }
    }
}
