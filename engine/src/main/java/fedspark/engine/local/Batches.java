package fedspark.engine.local;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import fedspark.data.ClientShard;

/** Minibatches of a shard as DL4J data sets: features [b, d] and one-hot labels [b, classes]. */
public final class Batches {

    private Batches() {
    }

    /** The examples {@code order[from .. to)} of {@code shard}. */
    public static DataSet of(ClientShard shard, int[] order, int from, int to, int classes) {
        int d = shard.featureSize();
        int b = to - from;
        float[] x = new float[b * d];
        float[] y = new float[b * classes];
        for (int i = 0; i < b; i++) {
            int example = order[from + i];
            System.arraycopy(shard.features(), example * d, x, i * d, d);
            y[i * classes + shard.labels()[example]] = 1f;
        }
        INDArray features = Nd4j.create(x, new long[] {b, d}, DataType.FLOAT);
        INDArray labels = Nd4j.create(y, new long[] {b, classes}, DataType.FLOAT);
        return new DataSet(features, labels);
    }

    /** The whole shard in its stored order. */
    public static DataSet all(ClientShard shard, int classes) {
        int[] identity = new int[shard.size()];
        for (int i = 0; i < identity.length; i++) {
            identity[i] = i;
        }
        return of(shard, identity, 0, identity.length, classes);
    }
}
