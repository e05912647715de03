package fedspark.engine.evaluation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;

import fedspark.data.BadInputException;
import fedspark.data.ClientShard;
import fedspark.engine.ModelSpec;
import fedspark.engine.TrainSettings;

/**
 * Evaluates the global model on the server's held-out test set (cross-entropy loss and accuracy), with the same
 * forward pass as training (the lean one where it covers the model). The test set is the server's own data: on the
 * driver, or, {@link #onSpark}, split into slices broadcast once to the executors and scored by a Spark job of a task
 * per slice, so that evaluation uses every core rather than the driver's one thread. Both give the same figures, bit
 * for bit.
 */
public final class Evaluator {

    private final ModelSpec model;
    private final TrainSettings.LocalStep step;
    private final ClientShard test;
    private JavaSparkContext jsc; // null: on the driver
    private Broadcast<ClientShard[]> slices; // null: on the driver

    public Evaluator(ModelSpec model, TrainSettings.LocalStep step, List<Row> testRows) {
        if (testRows.isEmpty()) {
            throw new BadInputException("the test set is empty");
        }
        int d = model.input().size();
        float[] x = new float[testRows.size() * d];
        int[] y = new int[testRows.size()];
        for (int i = 0; i < testRows.size(); i++) {
            Row row = testRows.get(i);
            int label = row.getInt(0);
            if (label < 0 || label >= model.classes()) {
                throw new BadInputException("test set: label " + label + " of row " + i + " is out of range [0, " + model.classes() + ")");
            }
            List<Float> values = row.getList(1);
            if (values.size() != d) {
                throw new BadInputException("test set: row " + i + " has " + values.size() + " features, the model takes " + d);
            }
            for (int j = 0; j < d; j++) {
                x[i * d + j] = values.get(j);
            }
            y[i] = label;
        }
        this.model = model;
        this.step = step;
        this.test = new ClientShard(-1, d, x, y);
    }

    /** The test set as read by {@link fedspark.data.ClientLayout#readTable} (labels and widths checked there). */
    public Evaluator(ModelSpec model, TrainSettings.LocalStep step, ClientShard test) {
        if (test.size() == 0) {
            throw new BadInputException("the test set is empty");
        }
        if (test.featureSize() != model.input().size()) {
            throw new BadInputException("test set: " + test.featureSize() + " features an example, the model takes " + model.input().size());
        }
        this.model = model;
        this.step = step;
        this.test = test;
    }

    /**
     * Scores on the executors from now on: the test set is cut into as many slices as Spark's default parallelism
     * (whole chunks of {@link Scores#CHUNK} examples each) and broadcast, so each executor fetches it once, not with
     * every round's tasks.
     */
    public Evaluator onSpark(JavaSparkContext jsc) {
        int chunks = (test.size() + Scores.CHUNK - 1) / Scores.CHUNK;
        int count = Math.max(1, Math.min(jsc.defaultParallelism(), chunks));
        ClientShard[] parts = new ClientShard[count];
        int d = test.featureSize();
        for (int s = 0; s < count; s++) {
            int from = Math.min(test.size(), (int) ((long) chunks * s / count) * Scores.CHUNK);
            int to = Math.min(test.size(), (int) ((long) chunks * (s + 1) / count) * Scores.CHUNK);
            parts[s] = new ClientShard(-1, d, Arrays.copyOfRange(test.features(), from * d, to * d), Arrays.copyOfRange(test.labels(), from, to));
        }
        this.jsc = jsc;
        this.slices = jsc.broadcast(parts);
        return this;
    }

    /** Frees the executors' copies of the test set. */
    public void release() {
        if (slices != null) {
            slices.destroy();
            slices = null;
        }
    }

    public Evaluation evaluate(float[] parameters) {
        int classes = model.classes();
        if (slices == null) {
            var network = model.threadTrainer(step);
            network.setParameters(parameters);
            return Scores.combine(List.of(Scores.of(network, test, 0, test.size(), classes)));
        }
        Broadcast<float[]> shared = jsc.broadcast(parameters);
        try {
            ModelSpec spec = model;
            TrainSettings.LocalStep localStep = step;
            Broadcast<ClientShard[]> testSlices = slices;
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < testSlices.value().length; i++) {
                indices.add(i);
            }
            List<Scores> parts = jsc.parallelize(indices, indices.size()).map(i -> {
                ClientShard slice = testSlices.value()[i];
                var network = spec.threadTrainer(localStep);
                network.setParameters(shared.value());
                return Scores.of(network, slice, 0, slice.size(), classes);
            }).collect(); // in slice order
            return Scores.combine(parts);
        } finally {
            shared.destroy();
        }
    }
}
