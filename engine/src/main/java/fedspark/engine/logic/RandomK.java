package fedspark.engine.logic;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Random-k sparsification: the client sends k = ceil(fraction d) coordinates drawn uniformly without replacement
 * (seeded by the run seed, the round and the client), as (32-bit index, value) pairs; with error feedback what it did
 * not send is carried to its next update, as for {@link TopK}.
 */
public final class RandomK implements UpdateTransform {

    private final double fraction;
    private final boolean errorFeedback;
    private final int step;

    public RandomK(double fraction, boolean errorFeedback, int step) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("the fraction of coordinates sent must be in (0, 1], got " + fraction);
        }
        this.fraction = fraction;
        this.errorFeedback = errorFeedback;
        this.step = step;
    }

    public boolean errorFeedback() {
        return errorFeedback;
    }

    @Override
    public Update apply(Update update, TransformContext context) {
        double[] full = TopK.withResidual(update.toDense(), context, errorFeedback);
        int d = full.length;
        int k = (int) Math.min(d, Math.ceil(fraction * d));
        // Floyd's algorithm over a bit set: k draws whatever d.
        SplittableRandom random = context.random(step);
        java.util.BitSet chosen = new java.util.BitSet(d);
        for (int j = d - k; j < d; j++) {
            int t = random.nextInt(j + 1);
            chosen.set(chosen.get(t) ? j : t);
        }
        int[] indices = chosen.stream().toArray();
        Arrays.sort(indices);
        return Sparsify.keep(update, full, indices, context, errorFeedback);
    }
}
