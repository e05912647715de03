package fedspark.engine.logic;

import java.util.SplittableRandom;

/**
 * QSGD (Alistarh et al. 2017): each value v_i is sent as ||v|| sign(v_i) l_i / s, with s = 2^(b-1) - 1 levels and l_i
 * the integer level |v_i| s / ||v|| rounded up or down at random so that the result is unbiased. A value costs b bits
 * (its sign and its level), the norm 32; a sparse update's indices keep their 32 bits each. b = 2 gives s = 1
 * (values in {-||v||, 0, ||v||}); b = 8 gives 127 levels.
 */
public final class StochasticQuantization implements UpdateTransform {

    private final int bits;
    private final int step;

    public StochasticQuantization(int bits, int step) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("quantization takes 2 to 16 bits per value, got " + bits);
        }
        this.bits = bits;
        this.step = step;
    }

    @Override
    public Update apply(Update update, TransformContext context) {
        double[] values = update.values();
        double norm = update.norm();
        int levels = (1 << (bits - 1)) - 1;
        double[] out = new double[values.length];
        if (norm > 0) {
            SplittableRandom random = context.random(step);
            for (int i = 0; i < values.length; i++) {
                double scaled = Math.abs(values[i]) / norm * levels;
                double level = Math.floor(scaled);
                if (random.nextDouble() < scaled - level) {
                    level++;
                }
                out[i] = Math.copySign(norm * level / levels, values[i]);
            }
        }
        long indexBits = update.isSparse() ? 32L * values.length : 0;
        return update.withValues(out, 32 + indexBits + (long) bits * values.length);
    }
}
