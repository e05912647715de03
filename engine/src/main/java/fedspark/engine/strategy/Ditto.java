package fedspark.engine.strategy;

import fedspark.engine.Seeds;

/**
 * Ditto (Li et al. 2021, "Ditto: Fair and Robust Federated Learning Through Personalization"): the global model is
 * trained as FedAvg trains it; each sampled client also trains a personal model v_k, kept as its client state (the
 * global model it first receives, before its first round), on its own loss plus (lambda / 2) ||v_k - w||^2 towards
 * the global model w it received, with the run's client optimizer for {@code epochs} epochs. A client evaluates v_k.
 * Settings: {@code train.ditto.lambda}, {@code train.ditto.epochs} (0: the run's E).
 */
public final class Ditto extends FedAvg {

    static final String PERSONAL = "personal";

    private final double lambda;
    private final int epochs;

    public Ditto(StrategyContext context) {
        super(context);
        lambda = context.options().getDouble("lambda");
        int configured = context.options().getInt("epochs");
        if (lambda < 0) {
            throw new IllegalArgumentException("train.ditto.lambda cannot be negative, got " + lambda);
        }
        if (configured < 0) {
            throw new IllegalArgumentException("train.ditto.epochs cannot be negative, got " + configured);
        }
        epochs = configured == 0 ? context.settings().localEpochs() : configured;
    }

    @Override
    public boolean keepsClientState() {
        return true;
    }

    @Override
    protected LocalTraining localTraining() {
        LocalTraining global = super.localTraining();
        LocalSgd personalTraining = new LocalSgd(context.model(), settings().localStep(), epochs, settings().batchSize(),
                Seeds.mix(settings().seed(), Seeds.PERSONAL));
        double mu = lambda;
        return (shard, input, state, local, rule) -> {
            ClientResult result = global.run(shard, input, state, local, rule);
            float[] personal = state.get(PERSONAL);
            float[] start = personal != null ? personal : input.global();
            state.put(PERSONAL, personalTraining.train(shard, start, rule.withProximalTerm(mu, input.global()), input.round()).parameters());
            return result;
        };
    }

    @Override
    public Personalization personalization() {
        return (train, input, state) -> {
            float[] personal = state.get(PERSONAL);
            return personal != null ? personal : input.global();
        };
    }
}
