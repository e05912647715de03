package fedspark.engine.logic;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

/**
 * The logic layer of a run: the transforms each client applies to its update, in order (train.update.transforms,
 * after the privacy block's clipping and noise). Serialized into the round's tasks.
 */
public final class UpdatePipeline implements Serializable {

    private final List<UpdateTransform> transforms;

    private UpdatePipeline(List<UpdateTransform> transforms) {
        this.transforms = List.copyOf(transforms);
    }

    /** {@code first} (privacy's clip and noise), then the transforms train.update names, from its blocks. */
    public static UpdatePipeline of(List<UpdateTransform> first, Config update) {
        return of(first, update, List.of());
    }

    /**
     * {@code first}, the transforms train.update names, and when there is any, {@code last} (central DP's second
     * clip, which keeps compressed updates within the clip).
     */
    public static UpdatePipeline of(List<UpdateTransform> first, Config update, List<UpdateTransform> last) {
        List<UpdateTransform> all = new ArrayList<>(first);
        for (String name : update.getStringList("transforms")) {
            int step = all.size();
            all.add(switch (name) {
                case "top-k" -> new TopK(update.getDouble("top-k.fraction"), update.getBoolean("top-k.error-feedback"));
                case "random-k" -> new RandomK(update.getDouble("random-k.fraction"), update.getBoolean("random-k.error-feedback"), step);
                case "selective-sgd" -> new TopK(update.getDouble("selective-sgd.theta"), false);
                case "quantize" -> new StochasticQuantization(update.getInt("quantize.bits"), step);
                case "sign" -> new SignCompression();
                default -> throw new IllegalArgumentException("unknown transform '" + name + "' in train.update.transforms; known: "
                        + "top-k, random-k, selective-sgd, quantize, sign");
            });
        }
        if (all.size() > first.size()) {
            all.addAll(last);
        }
        return new UpdatePipeline(all);
    }

    public boolean isEmpty() {
        return transforms.isEmpty();
    }

    /** True when a transform keeps a residual in the client's state (error feedback). */
    public boolean keepsClientState() {
        return transforms.stream().anyMatch(t -> t instanceof TopK topK && topK.errorFeedback()
                || t instanceof RandomK randomK && randomK.errorFeedback());
    }

    public Update apply(Update update, TransformContext context) {
        Update current = update;
        for (UpdateTransform transform : transforms) {
            current = transform.apply(current, context);
        }
        return current;
    }
}
