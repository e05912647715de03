package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.allocate;
import static fedspark.engine.local.lean.Buffers.relu;
import static fedspark.engine.local.lean.Buffers.reluGradient;
import static fedspark.engine.local.lean.Buffers.zero;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.nio.FloatBuffer;

import org.deeplearning4j.nn.conf.ConvolutionMode;

/** A 2-D convolution with ReLU by im2col and sgemm, per example; row-major W [out, in*kh*kw]. */
final class Convolution implements LeanLayer {
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
            dz = allocate(outChannels * pixels);
            dColumns = allocate(patch * pixels);
        }
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
        FloatBuffer wt = update.intoTarget() ? weightTarget : weights;
        FloatBuffer bt = update.intoTarget() ? biasTarget : biases;
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

