package fedspark.engine.strategy;

import fedspark.engine.Seeds;
import fedspark.engine.local.StepRule;

/**
 * FedAvg with local fine-tuning (the personalization baseline of Wang et al. 2019 and of Ditto's and FedPer's
 * comparisons): training is FedAvg's; before a client evaluates, it trains the global model for a few epochs on its
 * own training data with the run's client optimizer (its batches in an order of their own) and evaluates that.
 * Settings: {@code train.fedavg-ft.epochs}; with 0 the personalized model is the global model.
 */
public final class FineTunedFedAvg extends FedAvg {

    private final int epochs;

    public FineTunedFedAvg(StrategyContext context) {
        super(context);
        epochs = context.options().getInt("epochs");
        if (epochs < 0) {
            throw new IllegalArgumentException("train.fedavg-ft.epochs cannot be negative, got " + epochs);
        }
    }

    @Override
    public Personalization personalization() {
        LocalSgd tuning = new LocalSgd(context.model(), settings().localStep(), epochs, settings().batchSize(),
                Seeds.mix(settings().seed(), Seeds.PERSONAL));
        StepRule rule = LocalSgd.baseRule(settings());
        int tuningEpochs = epochs;
        return (train, input, state) -> tuningEpochs == 0 || train.size() == 0 ? input.global()
                : tuning.train(train, input.global(), rule, input.round()).parameters();
    }
}
