package fedspark.engine.strategy;

/**
 * FedYogi (Reddi et al. 2021, after Zaheer et al. 2018's Yogi): v = v - (1 - beta2) Delta^2 sign(v - Delta^2), so v
 * grows or shrinks additively towards Delta^2 instead of decaying to it. Settings: {@code train.fedyogi}.
 */
public final class FedYogi extends ServerOptimizer {

    public FedYogi(StrategyContext context) {
        super(context);
    }

    @Override
    protected double secondMoment(double v, double deltaSquared) {
        return v - (1 - beta2) * deltaSquared * Math.signum(v - deltaSquared);
    }
}
