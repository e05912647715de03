package fedspark.engine.evaluation;

import java.io.Serializable;

import fedspark.data.ClientShard;
import fedspark.engine.local.LocalTrainer;

/**
 * A model's cross-entropy loss on each example of a slice of a shard and how many it classified right. Each
 * example's loss is kept (not only their sum) so that slices scored in different tasks add up, in example order,
 * to the very sum one thread would have made.
 */
record Scores(double[] losses, long correct) implements Serializable {

    /** Examples are scored in chunks of this many: the chunks, not the tasks, decide how the forward pass is batched. */
    static final int CHUNK = 500;

    /** Scores the examples {@code [from, to)} of {@code examples} with the parameters the trainer holds. */
    static Scores of(LocalTrainer network, ClientShard examples, int from, int to, int classes) {
        int[] identity = new int[examples.size()];
        for (int i = 0; i < identity.length; i++) {
            identity[i] = i;
        }
        double[] losses = new double[to - from];
        long correct = 0;
        for (int chunk = from; chunk < to; chunk += CHUNK) {
            int end = Math.min(to, chunk + CHUNK);
            float[] probabilities = network.probabilities(examples, identity, chunk, end);
            for (int i = 0; i < end - chunk; i++) {
                int label = examples.labels()[chunk + i];
                int best = 0;
                for (int k = 1; k < classes; k++) {
                    if (probabilities[i * classes + k] > probabilities[i * classes + best]) {
                        best = k;
                    }
                }
                if (best == label) {
                    correct++;
                }
                losses[chunk - from + i] = -Math.log(Math.max(probabilities[i * classes + label], 1e-12));
            }
        }
        return new Scores(losses, correct);
    }

    /** Loss and accuracy over {@code parts}, slices of one set in order. */
    static Evaluation combine(java.util.List<Scores> parts) {
        double lossSum = 0;
        long correct = 0;
        long n = 0;
        for (Scores part : parts) {
            for (double loss : part.losses) {
                lossSum += loss;
            }
            correct += part.correct;
            n += part.losses.length;
        }
        return new Evaluation(lossSum / n, (double) correct / n);
    }
}
