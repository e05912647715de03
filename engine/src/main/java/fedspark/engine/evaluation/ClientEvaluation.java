package fedspark.engine.evaluation;

import java.io.Serializable;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

import fedspark.data.ClientIndex;
import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.SerializableHadoopConf;
import fedspark.engine.ClientShardRDD;
import fedspark.engine.ModelSpec;
import fedspark.engine.ShardCache;
import fedspark.engine.TrainSettings;
import fedspark.engine.local.LocalTrainer;
import fedspark.engine.state.ClientState;
import fedspark.engine.strategy.Personalization;
import fedspark.engine.strategy.RoundInput;

/**
 * Federated evaluation, executor side: a client scores the global model, and its personalized model, on its own
 * local test set. The test set is read from the partitioning's local test layout into the executor's
 * {@link ShardCache} by the task that holds the client's training shard, so no example leaves that executor; only
 * the scores do. The round's job is {@link fedspark.engine.FederatedRun}'s.
 */
public final class ClientEvaluation implements Serializable {

    private final String testRoot;
    private final ModelSpec model;
    private final TrainSettings.LocalStep step;
    private final Broadcast<SerializableHadoopConf> hadoop;
    private final Broadcast<ClientIndex> index; // where each client's local test examples are

    /** Local test sets laid out under {@code testRoot} as training data is ({@link ClientLayout}). */
    public ClientEvaluation(String testRoot, ModelSpec model, TrainSettings.LocalStep step, JavaSparkContext jsc) {
        this.testRoot = testRoot;
        this.model = model;
        this.step = step;
        this.hadoop = jsc.broadcast(new SerializableHadoopConf(jsc.hadoopConfiguration()));
        this.index = jsc.broadcast(ClientIndex.read(new Path(testRoot), jsc.hadoopConfiguration()));
    }

    /** Client {@code train.client()}'s scores, or null when it holds no local test examples. */
    public ClientScore score(ClientShard train, RoundInput input, ClientState state, Personalization personalization) {
        int client = train.client();
        ClientShard test = ShardCache.shared().get(testRoot + "#" + client,
                () -> ClientShardRDD.readAsTaskInput(() -> ClientLayout.read(new Path(testRoot), index.value(), client, model.input().size(),
                        model.classes(), hadoop.value().get())));
        if (test.size() == 0) {
            return null;
        }
        Evaluation global = evaluate(input.global(), test);
        Evaluation personal = global;
        if (personalization != null) {
            float[] personalModel = personalization.model(train, input, state);
            personal = personalModel == input.global() ? global : evaluate(personalModel, test);
        }
        return new ClientScore(input.round(), client, train.size(), test.size(), global.loss(), global.accuracy(),
                personal.loss(), personal.accuracy());
    }

    private Evaluation evaluate(float[] parameters, ClientShard test) {
        LocalTrainer network = model.threadTrainer(step);
        network.setParameters(parameters);
        return Scores.combine(java.util.List.of(Scores.of(network, test, 0, test.size(), model.classes())));
    }

    /** Drops the executor's cached local test sets (the driver's, in local mode). */
    public void evictCache() {
        ShardCache.shared().evict(testRoot);
    }
}
