package fedspark.engine;

/**
 * An algorithm as the pair the round needs: what clients do, and what the server does with their
 * weighted average. FedAvg and FedSGD are configurations of it.
 */
public record Strategy(ClientUpdate clientUpdate, ServerStep serverStep) {

    public static Strategy of(TrainSettings settings, ModelSpec model) {
        return switch (settings.clientReturns()) {
            case MODEL -> new Strategy(new SgdClientUpdate(model, settings.localEpochs(), settings.batchSize(), settings.seed(),
                    settings.localStep()),
                    ServerStep.modelAverage());
            case GRADIENT -> new Strategy(new GradientClientUpdate(model), ServerStep.gradientDescent(settings.learningRate()));
        };
    }
}
