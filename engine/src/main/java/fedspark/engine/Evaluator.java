package fedspark.engine;

import java.util.List;

import org.apache.spark.sql.Row;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import fedspark.data.BadInputException;
import fedspark.models.FlatParameters;

/**
 * Evaluates the global model on the server's held-out test set (cross-entropy loss and accuracy).
 * The test set is the server's own data, so it lives on the driver.
 */
public final class Evaluator {

    private static final int CHUNK = 2000;

    private final MultiLayerNetwork net;
    private final INDArray[] features;
    private final int[][] labels;
    private final int examples;

    public Evaluator(ModelSpec model, List<Row> testRows) {
        if (testRows.isEmpty()) {
            throw new BadInputException("the test set is empty");
        }
        this.net = model.newNetwork(0);
        int d = model.input().size();
        int chunks = (testRows.size() + CHUNK - 1) / CHUNK;
        features = new INDArray[chunks];
        labels = new int[chunks][];
        for (int c = 0; c < chunks; c++) {
            int from = c * CHUNK;
            int to = Math.min(testRows.size(), from + CHUNK);
            float[] x = new float[(to - from) * d];
            labels[c] = new int[to - from];
            for (int i = from; i < to; i++) {
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
                    x[(i - from) * d + j] = values.get(j);
                }
                labels[c][i - from] = label;
            }
            features[c] = Nd4j.create(x, new long[] {to - from, d}, DataType.FLOAT);
        }
        examples = testRows.size();
    }

    public Evaluation evaluate(float[] parameters) {
        FlatParameters.set(net, parameters);
        double lossSum = 0;
        long correct = 0;
        for (int c = 0; c < features.length; c++) {
            INDArray output = net.output(features[c], false);
            float[] probabilities = output.dup('c').data().asFloat();
            int classes = probabilities.length / labels[c].length;
            for (int i = 0; i < labels[c].length; i++) {
                int best = 0;
                for (int k = 1; k < classes; k++) {
                    if (probabilities[i * classes + k] > probabilities[i * classes + best]) {
                        best = k;
                    }
                }
                if (best == labels[c][i]) {
                    correct++;
                }
                lossSum -= Math.log(Math.max(probabilities[i * classes + labels[c][i]], 1e-12));
            }
        }
        return new Evaluation(lossSum / examples, (double) correct / examples);
    }
}
