package fedspark.engine;

import java.util.List;

import org.apache.spark.sql.Row;

import fedspark.data.BadInputException;
import fedspark.data.ClientShard;
import fedspark.engine.local.LocalTrainer;

/**
 * Evaluates the global model on the server's held-out test set (cross-entropy loss and accuracy), with
 * the same forward pass as training (the lean one where it covers the model). The test set is the
 * server's own data, so it lives on the driver.
 */
public final class Evaluator {

    private static final int CHUNK = 500;

    private final LocalTrainer network;
    private final ClientShard test;
    private final int[] identity;
    private final int classes;

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
        test = new ClientShard(-1, d, x, y);
        identity = new int[y.length];
        for (int i = 0; i < identity.length; i++) {
            identity[i] = i;
        }
        classes = model.classes();
        network = model.newTrainer(step);
    }

    public Evaluation evaluate(float[] parameters) {
        network.setParameters(parameters);
        double lossSum = 0;
        long correct = 0;
        for (int from = 0; from < identity.length; from += CHUNK) {
            int to = Math.min(identity.length, from + CHUNK);
            float[] probabilities = network.probabilities(test, identity, from, to);
            for (int i = 0; i < to - from; i++) {
                int label = test.labels()[from + i];
                int best = 0;
                for (int k = 1; k < classes; k++) {
                    if (probabilities[i * classes + k] > probabilities[i * classes + best]) {
                        best = k;
                    }
                }
                if (best == label) {
                    correct++;
                }
                lossSum -= Math.log(Math.max(probabilities[i * classes + label], 1e-12));
            }
        }
        return new Evaluation(lossSum / identity.length, (double) correct / identity.length);
    }
}
