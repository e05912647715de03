package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static fedspark.engine.local.lean.Buffers.relu;
import static fedspark.engine.local.lean.Buffers.reluGradient;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.nio.FloatBuffer;
import java.util.Arrays;

import org.deeplearning4j.nn.conf.ConvolutionMode;

/**
 * A 2-D convolution with ReLU by im2col and sgemm; row-major W [out, in*kh*kw]. Activations outside are NCHW
 * per example; inside, a slice of the minibatch is one sgemm over [patch, examples * columns], channel-major.
 *
 * <p>Why slices and not the whole minibatch in one sgemm: measured on the shipped CNNs, a slice whose columns
 * fit in the core's cache (about {@link #COLUMN_BUDGET} floats, often one example) is faster than one large
 * product that streams the columns through memory (NIID-Bench CNN step at B = 64: 3.5 ms against 4.9 ms).
 *
 * <p>Why "wide" columns at stride 1: the output is computed at every column of the padded input's rows
 * (rows of pitch {@code paddedWidth}; the {@code kw - 1} columns past each output row are computed and
 * dropped), so that each im2col row is one contiguous copy of the padded image and col2im one contiguous
 * add, instead of a short copy per output row (which took a third of a CNN step).
 *
 * <p>Element-wise work runs on heap arrays, staged from and to the direct buffers OpenBLAS reads by bulk
 * copies: indexed access to a direct buffer costs a bounds check and a call per element and is not vectorised.
 */
final class Convolution implements LeanLayer {
    /** Floats of im2col columns per slice: 64 KB, within a core's L2 with the rest of the step. */
    static final int COLUMN_BUDGET = 1 << 14;

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
    private final boolean wide; // stride 1: wide columns over the padded image
    private final int paddedHeight;
    private final int paddedWidth;
    private final int rowPitch; // distance between output rows in a slice's columns
    private final int columnsPerExample;
    private final int sliceExamples;
    private final int[][] inside; // generic path, per kernel column: the output columns that read inside the image
    private FloatBuffer biases;
    private FloatBuffer weights;
    private FloatBuffer biasTarget;
    private FloatBuffer weightTarget;
    private FloatBuffer weightGradient;
    private final float[] biasGradient;
    private float[] weightStage;
    private float[] weightGradientStage;
    private int capacity; // examples the slice buffers below hold
    private FloatBuffer columns;  // [patch, slice * columnsPerExample]
    private FloatBuffer dColumns; // [patch, slice * columnsPerExample]
    private FloatBuffer channelMajor; // [out, slice * columnsPerExample]: pre-activations forward, dLoss/dz backward
    private float[] inStage;      // a slice's input, then its dLoss/dInput
    private float[] paddedStage;  // one example's padded input or its gradient (wide path with padding)
    private float[] columnStage;  // the slice's columns, then dLoss/dColumns
    private float[] channelStage; // channelMajor's values
    private float[] outStage;     // the slice's output activations
    private float[] dOutStage;    // dLoss/dOutput
    private int columnsHold = -1; // the first example of the slice whose columns are in {@code columns}, or -1

    Convolution(int inChannels, int height, int width, int outChannels, int[] kernel, int[] stride, int[] padding, ConvolutionMode mode) {
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
        wide = strideH == 1 && strideW == 1;
        paddedHeight = outHeight + kh - 1;
        paddedWidth = outWidth + kw - 1;
        rowPitch = wide ? paddedWidth : outWidth;
        // Wide columns run from the first output pixel to the last: the kw - 1 dropped columns after the last row are not needed.
        columnsPerExample = wide ? (outHeight - 1) * paddedWidth + outWidth : pixels;
        sliceExamples = Math.max(1, COLUMN_BUDGET / (patch * columnsPerExample));
        inside = insideSpans();
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

    public void bind(FloatBuffer p, FloatBuffer target, int offset) {
        biases = p.slice(offset, outChannels);
        weights = p.slice(offset + outChannels, outChannels * patch);
        biasTarget = target.slice(offset, outChannels);
        weightTarget = target.slice(offset + outChannels, outChannels * patch);
        if (weightGradient == null) {
            weightGradient = allocate(outChannels * patch);
            weightStage = new float[outChannels * patch];
            weightGradientStage = new float[outChannels * patch];
        }
    }

    private boolean padded() {
        return paddedHeight != height || paddedWidth != width;
    }

    private void ensureCapacity(int batch) {
        int slice = Math.min(batch, sliceExamples);
        if (slice > capacity) {
            int n = slice * columnsPerExample;
            columns = allocate(patch * n);
            dColumns = allocate(patch * n);
            channelMajor = allocate(outChannels * n);
            inStage = new float[slice * inSize()];
            paddedStage = wide && padded() ? new float[inChannels * paddedHeight * paddedWidth] : null; // borders stay zero
            columnStage = new float[patch * n];
            channelStage = new float[outChannels * n];
            outStage = new float[slice * outSize()];
            dOutStage = new float[slice * outSize()];
            capacity = slice;
        }
    }

    public void forward(FloatBuffer x, FloatBuffer a, int batch) {
        ensureCapacity(batch);
        for (int first = 0; first < batch; first += sliceExamples) {
            int count = Math.min(sliceExamples, batch - first);
            int n = count * columnsPerExample;
            fillColumns(x, first, count);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, outChannels, n, patch, 1f, weights, patch, columns, n, 0f, channelMajor, n);
            channelMajor.get(0, channelStage, 0, outChannels * n);
            for (int c = 0; c < outChannels; c++) {
                float bias = biases.get(c);
                for (int b = 0; b < count; b++) {
                    for (int oi = 0; oi < outHeight; oi++) {
                        int from = c * n + b * columnsPerExample + oi * rowPitch;
                        int to = b * outSize() + c * pixels + oi * outWidth;
                        for (int oj = 0; oj < outWidth; oj++) {
                            outStage[to + oj] = relu(channelStage[from + oj] + bias);
                        }
                    }
                }
            }
            a.put(first * outSize(), outStage, 0, count * outSize());
        }
    }

    public void backward(FloatBuffer x, FloatBuffer a, FloatBuffer dA, FloatBuffer dX, int batch, Update update) {
        Arrays.fill(biasGradient, 0f);
        // Slices last to first: the forward pass left the last slice's columns in place.
        int last = (batch - 1) / sliceExamples * sliceExamples;
        for (int first = last; first >= 0; first -= sliceExamples) {
            int count = Math.min(sliceExamples, batch - first);
            int n = count * columnsPerExample;
            if (columnsHold != first) {
                fillColumns(x, first, count);
            }
            a.get(first * outSize(), outStage, 0, count * outSize());
            dA.get(first * outSize(), dOutStage, 0, count * outSize());
            if (wide) {
                Arrays.fill(channelStage, 0, outChannels * n, 0f); // the dropped columns contribute nothing
            }
            for (int c = 0; c < outChannels; c++) {
                for (int b = 0; b < count; b++) {
                    float g = 0f; // one example's sum at a time, as DL4J's per-example gradients are summed
                    for (int oi = 0; oi < outHeight; oi++) {
                        int to = c * n + b * columnsPerExample + oi * rowPitch;
                        int from = b * outSize() + c * pixels + oi * outWidth;
                        for (int oj = 0; oj < outWidth; oj++) {
                            float d = reluGradient(outStage[from + oj], dOutStage[from + oj]);
                            channelStage[to + oj] = d;
                            g += d;
                        }
                    }
                    biasGradient[c] += g;
                }
            }
            channelMajor.put(0, channelStage, 0, outChannels * n);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, outChannels, patch, n, 1f, channelMajor, n, columns, n,
                    first == last ? 0f : 1f, weightGradient, patch);
            if (dX != null) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, patch, n, outChannels, 1f, weights, patch, channelMajor, n, 0f, dColumns, n);
                dColumns.get(0, columnStage, 0, patch * n);
                Arrays.fill(inStage, 0, count * inSize(), 0f);
                for (int b = 0; b < count; b++) {
                    if (wide) {
                        wideCol2im(columnStage, b * columnsPerExample, n, b * inSize());
                    } else {
                        col2im(columnStage, b * pixels, n, inStage, b * inSize());
                    }
                }
                dX.put(first * inSize(), inStage, 0, count * inSize());
            }
        }
        // Applied after every slice's dX, which needs the weights of the forward pass.
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
            bt.put(c, beta * bt.get(c) + alpha * biasGradient[c]);
        }
    }

    /** The columns of examples {@code first .. first + count), side by side: [patch, count * columnsPerExample]. */
    private void fillColumns(FloatBuffer x, int first, int count) {
        int n = count * columnsPerExample;
        x.get(first * inSize(), inStage, 0, count * inSize());
        for (int b = 0; b < count; b++) {
            if (wide) {
                wideIm2col(b * inSize(), b * columnsPerExample, n);
            } else {
                im2col(inStage, b * inSize(), columnStage, b * pixels, n);
            }
        }
        columns.put(0, columnStage, 0, patch * n);
        columnsHold = first;
    }

    /** Stride 1: row (c, ki, kj) of the columns is the padded image of channel c from (ki, kj) on, one copy. */
    private void wideIm2col(int offset, int column, int ld) {
        float[] image = inStage;
        int imageOffset = offset;
        if (paddedStage != null) {
            for (int c = 0; c < inChannels; c++) {
                for (int i = 0; i < height; i++) {
                    System.arraycopy(inStage, offset + (c * height + i) * width, paddedStage,
                            (c * paddedHeight + i + padTop) * paddedWidth + padLeft, width);
                }
            }
            image = paddedStage;
            imageOffset = 0;
        }
        int row = 0;
        for (int c = 0; c < inChannels; c++) {
            for (int ki = 0; ki < kh; ki++) {
                for (int kj = 0; kj < kw; kj++, row++) {
                    System.arraycopy(image, imageOffset + (c * paddedHeight + ki) * paddedWidth + kj, columnStage, column + row * ld, columnsPerExample);
                }
            }
        }
    }

    /** The inverse of {@link #wideIm2col}: dColumns added back onto the padded image, its inside into one example's dX. */
    private void wideCol2im(float[] dCols, int column, int ld, int offset) {
        float[] image = inStage;
        int imageOffset = offset;
        if (paddedStage != null) {
            Arrays.fill(paddedStage, 0f);
            image = paddedStage;
            imageOffset = 0;
        }
        int row = 0;
        for (int c = 0; c < inChannels; c++) {
            for (int ki = 0; ki < kh; ki++) {
                for (int kj = 0; kj < kw; kj++, row++) {
                    int at = imageOffset + (c * paddedHeight + ki) * paddedWidth + kj;
                    int source = column + row * ld;
                    for (int q = 0; q < columnsPerExample; q++) {
                        image[at + q] += dCols[source + q];
                    }
                }
            }
        }
        if (paddedStage != null) {
            for (int c = 0; c < inChannels; c++) {
                for (int i = 0; i < height; i++) {
                    System.arraycopy(paddedStage, (c * paddedHeight + i + padTop) * paddedWidth + padLeft, inStage,
                            offset + (c * height + i) * width, width);
                }
            }
            Arrays.fill(paddedStage, 0f); // borders must be zero for the next im2col
        }
    }

    /** For each kernel column kj, the output columns [from, to) whose input column oj * strideW + kj - padLeft is inside the image. */
    private int[][] insideSpans() {
        int[][] spans = new int[kw][];
        for (int kj = 0; kj < kw; kj++) {
            int from = Math.min(outWidth, Math.max(0, -Math.floorDiv(kj - padLeft, strideW)));
            int to = Math.min(outWidth, Math.floorDiv(width - 1 - kj + padLeft, strideW) + 1);
            spans[kj] = new int[] {from, Math.max(from, to)};
        }
        return spans;
    }

    /** Any stride: one example's columns into {@code cols}: row r of its patch matrix starts at {@code column + r * ld}. */
    private void im2col(float[] x, int offset, float[] cols, int column, int ld) {
        int row = 0;
        for (int c = 0; c < inChannels; c++) {
            for (int ki = 0; ki < kh; ki++) {
                for (int kj = 0; kj < kw; kj++, row++) {
                    int from = inside[kj][0];
                    int to = inside[kj][1];
                    for (int oi = 0; oi < outHeight; oi++) {
                        int target = column + row * ld + oi * outWidth;
                        int ii = oi * strideH + ki - padTop;
                        if (ii < 0 || ii >= height) {
                            Arrays.fill(cols, target, target + outWidth, 0f);
                            continue;
                        }
                        for (int oj = 0; oj < from; oj++) {
                            cols[target + oj] = 0f;
                        }
                        int source = offset + (c * height + ii) * width + kj - padLeft; // input of output column 0
                        if (strideW == 1) {
                            for (int oj = from; oj < to; oj++) { // rows are short: a loop beats an arraycopy call
                                cols[target + oj] = x[source + oj];
                            }
                        } else {
                            for (int oj = from; oj < to; oj++) {
                                cols[target + oj] = x[source + oj * strideW];
                            }
                        }
                        for (int oj = to; oj < outWidth; oj++) {
                            cols[target + oj] = 0f;
                        }
                    }
                }
            }
        }
    }

    /** The inverse scatter-add of {@link #im2col}, into one example's dX (zeroed by the caller). */
    private void col2im(float[] cols, int column, int ld, float[] dX, int offset) {
        int row = 0;
        for (int c = 0; c < inChannels; c++) {
            for (int ki = 0; ki < kh; ki++) {
                for (int kj = 0; kj < kw; kj++, row++) {
                    int from = inside[kj][0];
                    int to = inside[kj][1];
                    for (int oi = 0; oi < outHeight; oi++) {
                        int ii = oi * strideH + ki - padTop;
                        if (ii < 0 || ii >= height) {
                            continue;
                        }
                        int source = column + row * ld + oi * outWidth;
                        int at = offset + (c * height + ii) * width + kj - padLeft;
                        if (strideW == 1) {
                            for (int oj = from; oj < to; oj++) {
                                dX[at + oj] += cols[source + oj];
                            }
                        } else {
                            for (int oj = from; oj < to; oj++) {
                                dX[at + oj * strideW] += cols[source + oj];
                            }
                        }
                    }
                }
            }
        }
    }
}
