package fedspark.engine.strategy;

import java.util.Arrays;

import fedspark.engine.aggregate.WeightedSum;

/**
 * FedPer (Arivazhagan et al. 2019, "Federated Learning with Personalization Layers"): the model's last
 * {@code personal-layers} layers (with parameters) are each client's own head, kept as its client state; the rest,
 * the body, is federated. A client trains the whole network from the global body and its head (the global model's
 * initial head before its first round), keeps the head it ends with and sends its body; the server averages the
 * bodies as FedAvg does and keeps its own head unchanged. A client evaluates the global body with its own head.
 * Settings: {@code train.fedper.personal-layers}; with 0 it is FedAvg, bit for bit.
 */
public final class FedPer extends FedAvg {

    static final String HEAD = "head";

    private final int headOffset; // where the head starts in the flat parameter vector

    public FedPer(StrategyContext context) {
        super(context);
        int personal = context.options().getInt("personal-layers");
        int[] layers = context.model().layerSizes();
        if (personal < 0 || personal >= layers.length) {
            throw new IllegalArgumentException("train.fedper.personal-layers must be in [0, " + (layers.length - 1) + "] for "
                    + context.model().name() + " (" + layers.length + " layers with parameters), got " + personal);
        }
        int offset = context.model().parameterCount();
        for (int i = 0; i < personal; i++) {
            offset -= layers[layers.length - 1 - i];
        }
        headOffset = offset;
    }

    private boolean hasHead() {
        return headOffset < context.model().parameterCount();
    }

    @Override
    public boolean keepsClientState() {
        return hasHead() || super.keepsClientState();
    }

    /** The global model with {@code head} in place of its own (the global model itself when there is none). */
    private static float[] withHead(float[] global, float[] head, int offset) {
        if (head == null) {
            return global;
        }
        float[] model = global.clone();
        System.arraycopy(head, 0, model, offset, head.length);
        return model;
    }

    @Override
    protected LocalTraining localTraining() {
        if (!hasHead()) {
            return super.localTraining();
        }
        int offset = headOffset;
        return (shard, input, state, local, rule) -> {
            float[] global = input.global();
            LocalSgd.Trained trained = local.train(shard, withHead(global, state.get(HEAD), offset), rule, input.round());
            float[] model = trained.parameters();
            state.put(HEAD, Arrays.copyOfRange(model, offset, model.length));
            float[] body = model.clone();
            System.arraycopy(global, offset, body, offset, global.length - offset); // the head stays on the client
            return ClientResult.weightedByExamples(shard.client(), shard.size(), body, trained.lossSum(), trained.lossCount());
        };
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        float[] next = meanModel(round, global, aggregate);
        System.arraycopy(global, headOffset, next, headOffset, global.length - headOffset); // averaged heads are nobody's
        return next;
    }

    @Override
    public Personalization personalization() {
        if (!hasHead()) {
            return null;
        }
        int offset = headOffset;
        return (train, input, state) -> withHead(input.global(), state.get(HEAD), offset);
    }
}
