package fedspark.engine.local;

import java.io.Serializable;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;

import fedspark.models.Layers;

/**
 * How a client's local optimizer turns a minibatch gradient g into a step, with PyTorch's SGD conventions:
 * <pre>
 *   g' = g + weightDecay * w + proximalMu * (w - anchor)      weight decay (L2), FedProx's proximal term
 *   v  = momentum * v + g'        (when momentum > 0)          velocity reset at each local update
 *   w  = w - lr * (momentum > 0 ? v : g')
 *   w  = w - lr * correction      (when there is one)          SCAFFOLD's c - c_i, outside momentum as NIID-Bench applies it
 * </pre>
 * Plain SGD and SGD with momentum alone are fused into the layers' gradient products by the lean step;
 * every other combination goes through {@link #apply} once per step.
 *
 * @param learningRate the client learning rate
 * @param momentum     in [0, 1)
 * @param weightDecay  L2 coefficient added to the gradient (PyTorch's weight_decay), on every parameter
 * @param proximalMu   FedProx's mu: the gradient of (mu / 2) ||w - anchor||^2 is added
 * @param anchor       the point the proximal term pulls towards (the round's global model); null when mu = 0
 * @param correction   a vector subtracted, times lr, after each step (SCAFFOLD's c - c_i); null for none
 */
public record StepRule(double learningRate, double momentum, double weightDecay, double proximalMu, float[] anchor,
                       float[] correction) implements Serializable {

    public StepRule {
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("the learning rate must be positive, got " + learningRate);
        }
        if (momentum < 0 || momentum >= 1) {
            throw new IllegalArgumentException("train.momentum must be in [0, 1), got " + momentum);
        }
        if (weightDecay < 0 || proximalMu < 0) {
            throw new IllegalArgumentException("weight decay and the proximal mu cannot be negative, got " + weightDecay + " and " + proximalMu);
        }
        if (proximalMu > 0 && anchor == null) {
            throw new IllegalArgumentException("a proximal term needs an anchor (the global model)");
        }
    }

    /** Plain SGD with learning rate {@code lr}. */
    public static StepRule sgd(double lr) {
        return new StepRule(lr, 0, 0, 0, null, null);
    }

    /**
     * The plain SGD a network configuration was built with: the {@link Sgd} updater of its first layer that has one
     * (wrappers such as LastTimeStep looked into; pooling layers have none).
     */
    public static StepRule configuredIn(MultiLayerConfiguration conf) {
        IUpdater updater = Layers.firstUpdater(conf);
        if (!(updater instanceof Sgd sgd)) {
            throw new IllegalArgumentException("the network's layers are not trained by plain SGD (first updater: " + updater + ")");
        }
        return sgd(sgd.getLearningRate());
    }

    /** SGD with momentum and weight decay (PyTorch's torch.optim.SGD). */
    public static StepRule sgd(double lr, double momentum, double weightDecay) {
        return new StepRule(lr, momentum, weightDecay, 0, null, null);
    }

    public StepRule withProximalTerm(double mu, float[] globalModel) {
        return new StepRule(learningRate, momentum, weightDecay, mu, mu > 0 ? globalModel : null, correction);
    }

    public StepRule withCorrection(float[] c) {
        return new StepRule(learningRate, momentum, weightDecay, proximalMu, anchor, c);
    }

    /** w = w - lr g: what DL4J's Sgd updater does. */
    public boolean isPlainSgd() {
        return momentum == 0 && onlyMomentum();
    }

    /** Nothing but (possibly) momentum: the lean step fuses it into the gradient products. */
    public boolean onlyMomentum() {
        return weightDecay == 0 && proximalMu == 0 && correction == null;
    }

    /** One step on flat parameters {@code w} from the loss gradient {@code g} (overwritten); {@code v} the velocity (momentum only). */
    public void apply(float[] w, float[] g, float[] v) {
        int n = w.length;
        if ((anchor != null && anchor.length != n) || (correction != null && correction.length != n)) {
            throw new IllegalArgumentException("step rule vectors do not match the model's " + n + " parameters");
        }
        float lr = (float) learningRate;
        float mu = (float) momentum;
        float decay = (float) weightDecay;
        float prox = (float) proximalMu;
        for (int i = 0; i < n; i++) {
            float wi = w[i];
            float gi = g[i];
            if (decay != 0) {
                gi += decay * wi;
            }
            if (prox != 0) {
                gi += prox * (wi - anchor[i]);
            }
            if (mu != 0) {
                gi = mu * v[i] + gi;
                v[i] = gi;
            }
            wi -= lr * gi;
            if (correction != null) {
                wi -= lr * correction[i];
            }
            w[i] = wi;
        }
    }
}
