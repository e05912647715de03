package fedspark.engine.logic;

/** What top-k and random-k share: sending the chosen coordinates, and keeping the rest as the error-feedback residual. */
final class Sparsify {

    private Sparsify() {
    }

    /** The update that sends {@code full} at {@code chosen} (ascending); the rest becomes the residual when kept. */
    static Update keep(Update update, double[] full, int[] chosen, TransformContext context, boolean errorFeedback) {
        double[] values = new double[chosen.length];
        for (int j = 0; j < chosen.length; j++) {
            values[j] = full[chosen[j]];
        }
        if (errorFeedback) {
            float[] residual = new float[full.length];
            for (int i = 0; i < full.length; i++) {
                residual[i] = (float) full[i];
            }
            for (int index : chosen) {
                residual[index] = 0;
            }
            context.state().put(TopK.RESIDUAL, residual);
        }
        return update.sparse(chosen, values, 64L * chosen.length);
    }
}
