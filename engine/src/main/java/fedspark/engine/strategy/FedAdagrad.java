package fedspark.engine.strategy;

/** FedAdagrad (Reddi et al. 2021): v = v + Delta^2 (beta2 unused). Settings: {@code train.fedadagrad}. */
public final class FedAdagrad extends ServerOptimizer {

    public FedAdagrad(StrategyContext context) {
        super(context);
    }

    @Override
    protected double secondMoment(double v, double deltaSquared) {
        return v + deltaSquared;
    }
}
