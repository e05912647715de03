package fedspark.models;

import java.util.Map;
import java.util.SplittableRandom;

import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Every parameter drawn from a Java generator seeded by the model seed and the parameter's index, as PyTorch's
 * layers initialise theirs. DL4J's own initialisation gives other values in every JVM for the same seed
 * (1.0.0-M2.1, measured), which would make runs irreproducible.
 * <ul>
 * <li>dense, output and convolution weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (DL4J's WeightInit.UNIFORM, PyTorch's
 *     Linear and Conv2d); biases zero or (uniformBiases) from the same distribution;</li>
 * <li>LSTM weights (input and recurrent): U(-1/sqrt(units), 1/sqrt(units)) (PyTorch's LSTM); biases zero or uniform;</li>
 * <li>embeddings: N(0, 1) (PyTorch's Embedding);</li>
 * <li>batch normalization: scale 1, shift 0, running mean 0, running variance 1 (log10 of its deviation 0).</li>
 * </ul>
 */
final class Initialization {

    private Initialization() {
    }

    static void initialize(MultiLayerNetwork net, long seed, boolean uniformBiases) {
        int index = 0;
        Map<String, INDArray> parameters = net.paramTable();
        for (Map.Entry<String, INDArray> parameter : parameters.entrySet()) {
            INDArray view = parameter.getValue();
            String key = parameter.getKey(); // "<layer>_<name>": "0_W", "0_b", "1_RW", "2_gamma"
            int cut = key.indexOf('_');
            Layer layer = Layers.unwrapped(net.getLayerWiseConfigurations().getConf(Integer.parseInt(key.substring(0, cut))).getLayer());
            float[] values = values(layer, key.substring(cut + 1), view.shape(), (int) view.length(), seed * 1_000_003L + index, uniformBiases,
                    parameters.get(key.substring(0, cut + 1) + "W"));
            net.setParam(key, Nd4j.create(values, view.shape(), view.dataType()));
            index++;
        }
    }

    private static float[] values(Layer layer, String name, long[] shape, int length, long seed, boolean uniformBiases, INDArray weights) {
        float[] values = new float[length];
        SplittableRandom random = new SplittableRandom(seed);
        if (layer instanceof BatchNormalization) {
            if (name.equals("gamma") || name.equals("var")) {
                java.util.Arrays.fill(values, 1f);
            }
            return values;
        }
        if ((layer instanceof EmbeddingLayer || layer instanceof EmbeddingSequenceLayer) && name.equals("W")) {
            for (int i = 0; i < length; i++) {
                values[i] = (float) gaussian(random);
            }
            return values;
        }
        boolean bias = name.equals("b");
        if (bias && !uniformBiases) {
            return values;
        }
        double fanIn;
        if (layer instanceof BaseRecurrentLayer recurrent) {
            fanIn = ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) recurrent).getNOut();
        } else {
            long[] w = bias && weights != null ? weights.shape() : shape; // dense [in, out]; convolution [out, in, kh, kw]
            fanIn = w.length == 4 ? w[1] * w[2] * w[3] : w[0];
        }
        double bound = 1.0 / Math.sqrt(fanIn);
        for (int i = 0; i < length; i++) {
            values[i] = (float) ((2 * random.nextDouble() - 1) * bound);
        }
        return values;
    }

    /** A standard normal draw (Box-Muller), from the generator alone. */
    private static double gaussian(SplittableRandom random) {
        double u = 1 - random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
