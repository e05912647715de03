package fedspark.engine.local.lean;

import static fedspark.engine.local.lean.Buffers.zero;

import java.nio.FloatBuffer;

/** Max pooling without padding; the gradient goes to the first maximum of each window. */
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
    private int[] argmax = new int[0];

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
