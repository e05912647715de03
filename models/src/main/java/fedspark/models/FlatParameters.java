package fedspark.models;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** A network's parameters as one flat float vector, in Deeplearning4j's own order (layer by layer, W then b). */
public final class FlatParameters {

    private FlatParameters() {
    }

    /** A copy of the network's parameters. */
    public static float[] of(MultiLayerNetwork net) {
        return net.params().toFloatVector();
    }

    /** Overwrites the network's parameters with {@code values}. */
    public static void set(MultiLayerNetwork net, float[] values) {
        if (values.length != net.numParams()) {
            throw new IllegalArgumentException("the model has " + net.numParams() + " parameters, the vector " + values.length);
        }
        INDArray flat = Nd4j.createFromArray(values).reshape(1, values.length).castTo(DataType.FLOAT);
        net.params().assign(flat);
    }

    /** Largest absolute difference between two vectors of one length. */
    public static double maxAbsDifference(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("lengths differ: " + a.length + " and " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }
}
