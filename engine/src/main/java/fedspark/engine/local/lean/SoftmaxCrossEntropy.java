package fedspark.engine.local.lean;

import java.nio.FloatBuffer;

/** The output layer's loss: softmax over the logits and cross-entropy with the labels, as DL4J's LossMCXENT computes them. */
final class SoftmaxCrossEntropy {

    // DL4J's LossMCXENT clips softmax outputs to [eps, 1 - eps] before the loss and its gradient.
    private static final float CLIP_LOW = 1e-10f;
    private static final float CLIP_HIGH = (float) (1.0 - 1e-10);

    private SoftmaxCrossEntropy() {
    }

    /**
     * The batch's summed loss; writes dLoss/dZ = (p - y) / batch into {@code delta} (DL4J averages over the
     * minibatch). Logits and delta hold one example after another.
     */
    static double lossAndGradient(FloatBuffer logits, int[] labels, int classes, int batch, FloatBuffer delta) {
        float[] z = new float[classes * batch];
        logits.get(0, z);
        double lossSum = 0;
        for (int j = 0; j < batch; j++) {
            int base = j * classes;
            float max = Float.NEGATIVE_INFINITY;
            for (int k = base; k < base + classes; k++) {
                max = Math.max(max, z[k]);
            }
            float sum = 0f;
            for (int k = base; k < base + classes; k++) {
                z[k] = (float) Math.exp(z[k] - max);
                sum += z[k];
            }
            int labelAt = base + labels[j];
            for (int k = base; k < base + classes; k++) {
                float p = Math.min(Math.max(z[k] / sum, CLIP_LOW), CLIP_HIGH);
                if (k == labelAt) {
                    lossSum -= Math.log(p);
                }
                z[k] = (k == labelAt ? p - 1f : p) / batch;
            }
        }
        delta.put(0, z);
        return lossSum;
    }

    /** Softmax of each example's logits. */
    static float[] probabilities(FloatBuffer logits, int classes, int batch) {
        float[] p = new float[batch * classes];
        logits.get(0, p);
        for (int base = 0; base < p.length; base += classes) {
            float max = Float.NEGATIVE_INFINITY;
            for (int k = base; k < base + classes; k++) {
                max = Math.max(max, p[k]);
            }
            float sum = 0f;
            for (int k = base; k < base + classes; k++) {
                p[k] = (float) Math.exp(p[k] - max);
                sum += p[k];
            }
            for (int k = base; k < base + classes; k++) {
                p[k] /= sum;
            }
        }
        return p;
    }
}
