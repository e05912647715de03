package fedspark.engine.robust;

import java.util.ArrayList;
import java.util.List;

/**
 * Norm bounding (Sun et al. 2019, "Can You Really Backdoor Federated Learning?"): every update is scaled down to L2
 * norm at most M, then the weighted mean is taken. It limits what one client can move, not which way.
 */
public final class NormBounding implements RobustRule {

    private final double bound;

    public NormBounding(double bound) {
        if (!(bound > 0)) {
            throw new IllegalArgumentException("train.robust.norm-bound must be positive, got " + bound);
        }
        this.bound = bound;
    }

    @Override
    public float[] combine(List<ClientVectors.Entry> updates) {
        List<ClientVectors.Entry> bounded = new ArrayList<>();
        for (ClientVectors.Entry e : updates) {
            double sum = 0;
            for (float v : e.update()) {
                sum += (double) v * v;
            }
            double norm = Math.sqrt(sum);
            if (norm <= bound) {
                bounded.add(e);
            } else {
                float[] scaled = new float[e.update().length];
                for (int j = 0; j < scaled.length; j++) {
                    scaled[j] = (float) (e.update()[j] * bound / norm);
                }
                bounded.add(new ClientVectors.Entry(e.client(), e.weight(), scaled));
            }
        }
        return RobustRule.weightedMean(bounded);
    }
}
