package fedspark.engine.strategy;

/** FedAdam (Reddi et al. 2021): v = beta2 v + (1 - beta2) Delta^2. Settings: {@code train.fedadam}. */
public final class FedAdam extends ServerOptimizer {

    public FedAdam(StrategyContext context) {
        super(context);
    }

    @Override
    protected double secondMoment(double v, double deltaSquared) {
        return beta2 * v + (1 - beta2) * deltaSquared;
    }
}
