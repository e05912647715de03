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
     * minibatch). {@code logits} is overwritten.
     */
    static double lossAndGradient(FloatBuffer logits, int[] labels, int classes, int batch, FloatBuffer delta) {
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
            int label = labels[j];
            for (int k = 0; k < classes; k++) {
                float p = Math.min(Math.max(logits.get(base + k) / sum, CLIP_LOW), CLIP_HIGH);
                if (k == label) {
                    lossSum -= Math.log(p);
                }
                delta.put(base + k, (k == label ? p - 1f : p) / batch);
            }
        }
        return lossSum;
    }

    /** Softmax of each example's logits. */
    static float[] probabilities(FloatBuffer logits, int classes, int batch) {
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
}
