package fedspark.engine.logic;

/**
 * L2 clipping of a client's update to norm S (McMahan et al. 2018, "Learning Differentially Private Recurrent
 * Language Models"): scaled by min(1, S / ||update||), so one client moves the sum by at most S. Per layer, each
 * layer's part is clipped to S / sqrt(L) for L layers, which bounds the whole by S as well. The clip is fixed, or the
 * value the server shares under {@link #SHARED_CLIP} (adaptive clipping), in which case the client also reports
 * whether its update's norm was within the clip ({@link #BELOW_CLIP}, weight 1, centred: {@link #belowClipReport};
 * Andrew et al. 2021).
 */
public final class Clip implements UpdateTransform {

    public static final String SHARED_CLIP = "clip";
    public static final String BELOW_CLIP = "below_clip";

    private final double norm;
    private final boolean perLayer;
    private final boolean adaptive;
    private final boolean reports;

    /** {@code norm} is ignored when {@code adaptive}: the round's clip comes from the server. */
    public Clip(double norm, boolean perLayer, boolean adaptive) {
        this(norm, perLayer, adaptive, true);
    }

    /** As above; {@code reports} false: an adaptive clip that does not report (a second clip after compression). */
    public Clip(double norm, boolean perLayer, boolean adaptive, boolean reports) {
        if (!adaptive && !(norm > 0)) {
            throw new IllegalArgumentException("the clip norm must be positive, got " + norm);
        }
        this.norm = norm;
        this.perLayer = perLayer;
        this.adaptive = adaptive;
        this.reports = reports;
    }

    @Override
    public Update apply(Update update, TransformContext context) {
        double clip = adaptive ? context.input().shared(SHARED_CLIP)[0] : norm;
        double[] dense = update.isSparse() ? null : update.values();
        if (dense == null && perLayer) {
            throw new IllegalArgumentException("per-layer clipping needs a dense update: put clip before sparsification");
        }
        double total = update.norm();
        if (adaptive && reports) {
            context.report(BELOW_CLIP, 1, belowClipReport(total, clip));
        }
        if (!perLayer) {
            return total <= clip ? update : update.withValues(scaled(update.values(), 0, update.values().length, clip / total,
                    update.values().clone()), update.bits());
        }
        int[] layers = context.layerSizes();
        double layerClip = clip / Math.sqrt(layers.length);
        double[] out = null;
        int from = 0;
        for (int size : layers) {
            double layerNorm = Update.norm(dense, from, from + size);
            if (layerNorm > layerClip) {
                out = scaled(dense, from, from + size, layerClip / layerNorm, out == null ? dense.clone() : out);
            }
            from += size;
        }
        return out == null ? update : update.dense(out, update.bits());
    }

    /**
     * What a client reports under adaptive clipping: +1/2 when its update's norm is within the clip, -1/2 when it is
     * not. Centred, so that adding or removing one client moves the sum by at most 1/2 (Andrew et al. 2021, Section 3;
     * an uncentred 0/1 bit moves it by 1 and would spend four times the privacy the count's noise is sized for).
     */
    public static float belowClipReport(double norm, double clip) {
        return norm <= clip ? 0.5f : -0.5f;
    }

    private static double[] scaled(double[] values, int from, int to, double factor, double[] out) {
        for (int i = from; i < to; i++) {
            out[i] = values[i] * factor;
        }
        return out;
    }
}
