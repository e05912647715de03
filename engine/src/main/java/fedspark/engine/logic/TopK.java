package fedspark.engine.logic;

import java.util.Arrays;

/**
 * Top-k sparsification: the client sends the k = ceil(fraction d) coordinates of largest magnitude, as (32-bit
 * index, value) pairs. With error feedback (Deep Gradient Compression's local accumulation, Lin et al. 2018) what it
 * did not send is kept as a residual in its durable state and added to its next update before selection, so no
 * part of an update is lost, only delayed. Without error feedback and with fraction theta it is Selective SGD's
 * upload rule (Shokri and Shmatikov 2015: share the theta fraction of parameters with the largest updates).
 */
public final class TopK implements UpdateTransform {

    public static final String RESIDUAL = "residual";

    private final double fraction;
    private final boolean errorFeedback;

    public TopK(double fraction, boolean errorFeedback) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("the fraction of coordinates sent must be in (0, 1], got " + fraction);
        }
        this.fraction = fraction;
        this.errorFeedback = errorFeedback;
    }

    public boolean errorFeedback() {
        return errorFeedback;
    }

    @Override
    public Update apply(Update update, TransformContext context) {
        double[] full = withResidual(update.toDense(), context, errorFeedback);
        int k = (int) Math.min(full.length, Math.ceil(fraction * full.length));
        int[] chosen = largest(full, k);
        return Sparsify.keep(update, full, chosen, context, errorFeedback);
    }

    /** The indices of the k values of largest magnitude, ascending; ties to the lower index. */
    static int[] largest(double[] values, int k) {
        if (k >= values.length) {
            int[] all = new int[values.length];
            Arrays.setAll(all, i -> i);
            return all;
        }
        // The k-th largest magnitude by selection on a copy, then one pass keeps what is above it and enough ties.
        double[] magnitudes = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            magnitudes[i] = Math.abs(values[i]);
        }
        double threshold = select(magnitudes, values.length - k);
        int above = 0;
        for (double v : values) {
            if (Math.abs(v) > threshold) {
                above++;
            }
        }
        int ties = k - above;
        int[] chosen = new int[k];
        int n = 0;
        for (int i = 0; i < values.length && n < k; i++) {
            double m = Math.abs(values[i]);
            if (m > threshold || (m == threshold && ties-- > 0)) {
                chosen[n++] = i;
            }
        }
        return chosen;
    }

    /** The value of rank {@code rank} (0-based, ascending) of {@code a}, which it reorders (Hoare's quickselect). */
    private static double select(double[] a, int rank) {
        int low = 0;
        int high = a.length - 1;
        while (low < high) {
            double pivot = a[(low + high) >>> 1];
            int i = low;
            int j = high;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    double t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (rank <= j) {
                high = j;
            } else if (rank >= i) {
                low = i;
            } else {
                return a[rank];
            }
        }
        return a[rank];
    }

    /** The update plus the residual the client kept from its last round (when it keeps one). */
    static double[] withResidual(double[] full, TransformContext context, boolean errorFeedback) {
        if (errorFeedback) {
            float[] residual = context.state().get(RESIDUAL);
            if (residual != null) {
                if (residual.length != full.length) {
                    throw new IllegalStateException("client " + context.client() + " kept a residual of " + residual.length
                            + " values for an update of " + full.length);
                }
                for (int i = 0; i < full.length; i++) {
                    full[i] += residual[i];
                }
            }
        }
        return full;
    }
}
