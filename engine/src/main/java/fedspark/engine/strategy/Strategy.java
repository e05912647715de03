package fedspark.engine.strategy;

import java.util.LinkedHashMap;
import java.util.Map;

import fedspark.engine.ClientSampler;
import fedspark.engine.TrainSettings;
import fedspark.engine.aggregate.Aggregate;

/**
 * A federated algorithm, as the round sees it. The round ({@link fedspark.engine.FederatedRun}) never learns an
 * algorithm's name: it asks the strategy which clients train ({@link #sample}), what they receive besides the
 * global model ({@link #shared}), what they run ({@link #clientUpdate}), how their results combine
 * ({@link #newAggregate}) and what the server makes of them ({@link #serverStep}). The strategy owns the server's
 * state (moments, velocity, control variates), which goes into checkpoints ({@link #state}, {@link #restore}),
 * and may add columns to the metrics ({@link #metrics}). Personalization strategies also say which model each client
 * evaluates on its own test data ({@link #personalization}). One instance lives on the driver for a whole run.
 *
 * @param <A> the kind of aggregate its clients' results are combined into
 */
public abstract class Strategy<A extends Aggregate<A>> {

    protected final StrategyContext context;

    protected Strategy(StrategyContext context) {
        this.context = context;
    }

    protected TrainSettings settings() {
        return context.settings();
    }

    /** The clients of round {@code round}: max(1, round(C K)) of K, uniformly, seeded by the run seed and the round. */
    public int[] sample(int round, int clients) {
        return ClientSampler.sample(clients, settings().sampledClients(clients), settings().seed(), round);
    }

    /** Vectors every sampled client of {@code round} receives besides the global model {@code global} (none by default). */
    public Map<String, float[]> shared(int round, float[] global) {
        return Map.of();
    }

    /** What the round's clients need set up once {@code sampled} is known (secure aggregation's keys), or null. */
    public java.io.Serializable setup(int round, int[] sampled) {
        return null;
    }

    /** The executor-side local training (serialized into the round's tasks: it must not hold the strategy). */
    public abstract ClientUpdate clientUpdate();

    /** True when clients keep state between rounds (see {@link fedspark.engine.state.ClientState}). */
    public boolean keepsClientState() {
        return false;
    }

    /** How a client personalizes the global model before evaluating it on its local test set; null: it does not. */
    public Personalization personalization() {
        return null;
    }

    /** A fresh, empty aggregate: the treeAggregate's zero value. */
    public abstract A newAggregate();

    /** True when a round may have no client with examples (Poisson sampling): the server step then gets an empty aggregate. */
    public boolean allowsEmptyRounds() {
        return false;
    }

    /** Null, or why round {@code round} must not run (a privacy budget spent): the run then stops after the round before. */
    public String refusal(int round) {
        return null;
    }

    /** The next global model from this one and the round's aggregate; updates the server state. */
    public abstract float[] serverStep(int round, float[] global, A aggregate);

    /** The server state to checkpoint (named vectors, a scalar as a vector of one); none by default. */
    public Map<String, float[]> state() {
        return Map.of();
    }

    /** Restores what {@link #state} returned, when a run resumes. */
    public void restore(Map<String, float[]> state) {
        if (!state.isEmpty()) {
            throw new IllegalArgumentException("the checkpoint holds server state " + state.keySet() + " that "
                    + getClass().getSimpleName() + " does not keep");
        }
    }

    /** Extra columns of the metrics row of the round just stepped (column name to value), in a fixed order. */
    public Map<String, Double> metrics() {
        return new LinkedHashMap<>();
    }
}
