package fedspark.engine.logic;

/**
 * Sign compression with a scale (Karimireddy et al. 2019, "Error Feedback Fixes SignSGD"): each value is sent as its
 * sign, one bit, and the update as a whole carries the mean magnitude ||v||_1 / n as a 32-bit scale, so v_i becomes
 * sign(v_i) ||v||_1 / n (zero stays zero). A sparse update's indices keep their 32 bits each.
 */
public final class SignCompression implements UpdateTransform {

    @Override
    public Update apply(Update update, TransformContext context) {
        double[] values = update.values();
        double l1 = 0;
        for (double v : values) {
            l1 += Math.abs(v);
        }
        double scale = values.length == 0 ? 0 : l1 / values.length;
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i] == 0 ? 0 : Math.copySign(scale, values[i]);
        }
        long indexBits = update.isSparse() ? 32L * values.length : 0;
        return update.withValues(out, 32 + indexBits + values.length);
    }
}
