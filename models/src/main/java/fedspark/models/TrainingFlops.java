package fedspark.models;

import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The floating-point work of training a model on one example, from its layers' shapes: the multiply-accumulates (MACs)
 * of the forward pass summed over its dense, convolution and LSTM layers, and one training example costs
 * <pre>
 *   2 MAC (forward) + 2 MAC (weight gradients) + 2 (MAC - MAC of the input) (input gradients)
 * </pre>
 * where "MAC of the input" is what the first layer with parameters spends on the network's input, whose gradient
 * nobody needs (a layer after an embedding or a batch normalisation passes gradients back to its parameters). A dense layer (output layers too) costs in x out MACs, a convolution k_h k_w c_in c_out h_out w_out
 * (stride and padding enter through h_out and w_out), an LSTM of u units on i inputs 4 u (i + u) a step times the
 * steps (only its 4 u i input part is spared as the first layer: the recurrent gradient is always needed), an
 * embedding none (a lookup). Pooling, activations, softmax and the loss, biases, batch normalisation, dropout and the
 * update itself are not counted: they are element-wise, a few percent of the products on these models. For McMahan's
 * 2NN this gives 0.879 MFLOP an example, for his CNN 72.4 MFLOP.
 *
 * @param forwardMacs  the forward pass's multiply-accumulates an example
 * @param inputMacs    those of them the first layer spends on the network's input (no input gradient)
 * @param uncountable  why the work is not counted (a layer of a kind not above), else null; then both counts are 0
 */
public record TrainingFlops(long forwardMacs, long inputMacs, String uncountable) {

    /** The work of training {@code definition} on examples of shape {@code in} with {@code classes} classes. */
    public static TrainingFlops of(ModelDefinition definition, InputShape in, int classes) {
        return of(definition.configuration(in, classes, 0, new Sgd(0.1)), Models.inputType(in));
    }

    /** The work of training the network {@code conf} on examples of type {@code input}. */
    public static TrainingFlops of(MultiLayerConfiguration conf, InputType input) {
        long macs = 0;
        long first = -1; // the input's MACs, once the first layer with parameters is found
        InputType type = input;
        for (int l = 0; l < conf.getConfs().size(); l++) {
            Layer layer = conf.getConf(l).getLayer();
            Layer counted = layer instanceof LastTimeStep last ? last.getUnderlying() : layer;
            InputPreProcessor pre = conf.getInputPreProcess(l);
            try {
                if (pre != null) {
                    type = pre.getOutputType(type);
                }
                long[] layerMacs = macs(counted, type, layer.getOutputType(l, type)); // {all, on the layer's input}
                if (layerMacs == null) {
                    return new TrainingFlops(0, 0, "layer " + (l + 1) + " (" + counted.getClass().getSimpleName() + " on " + type
                            + ") is of a kind not counted");
                }
                macs += layerMacs[0];
                if (first < 0 && (layerMacs[0] > 0 || counted instanceof EmbeddingSequenceLayer || counted instanceof BatchNormalization)) {
                    first = layerMacs[1];
                }
                type = layer.getOutputType(l, type);
            } catch (RuntimeException e) {
                return new TrainingFlops(0, 0, "layer " + (l + 1) + " (" + counted.getClass().getSimpleName() + "): " + e.getMessage());
            }
        }
        return new TrainingFlops(macs, Math.max(first, 0), null);
    }

    /**
     * {all MACs, those on the layer's input} of one example through {@code layer}, taking {@code in} and giving
     * {@code out}; {0, 0} for layers without products; null for layers of a kind not counted.
     */
    private static long[] macs(Layer layer, InputType in, InputType out) {
        if (layer instanceof SubsamplingLayer && layer.getClass() == SubsamplingLayer.class || layer instanceof BatchNormalization
                || layer instanceof DropoutLayer || layer instanceof ActivationLayer || layer instanceof EmbeddingSequenceLayer) {
            return new long[] {0, 0};
        }
        if (layer.getClass() == ConvolutionLayer.class && in instanceof InputType.InputTypeConvolutional i
                && out instanceof InputType.InputTypeConvolutional o) {
            ConvolutionLayer c = (ConvolutionLayer) layer;
            long m = (long) c.getKernelSize()[0] * c.getKernelSize()[1] * i.getChannels() * o.getChannels() * o.getHeight() * o.getWidth();
            return new long[] {m, m};
        }
        if (layer.getClass() == DenseLayer.class || layer.getClass() == OutputLayer.class) {
            org.deeplearning4j.nn.conf.layers.FeedForwardLayer dense = (org.deeplearning4j.nn.conf.layers.FeedForwardLayer) layer;
            long steps = 1;
            if (in instanceof InputType.InputTypeRecurrent r) { // applied at every step
                steps = r.getTimeSeriesLength();
            } else if (!(in instanceof InputType.InputTypeFeedForward || in instanceof InputType.InputTypeConvolutionalFlat)) { // flat values
                return null;
            }
            if (steps <= 0) {
                return null; // a sequence of unknown length
            }
            long m = dense.getNIn() * dense.getNOut() * steps;
            return new long[] {m, m};
        }
        if (layer.getClass() == LSTM.class && in instanceof InputType.InputTypeRecurrent r && r.getTimeSeriesLength() > 0) {
            LSTM lstm = (LSTM) layer;
            long u = lstm.getNOut();
            long i = lstm.getNIn();
            long steps = r.getTimeSeriesLength();
            return new long[] {4 * u * (i + u) * steps, 4 * u * i * steps};
        }
        return null;
    }

    /** True when the work is counted; else {@link #uncountable()} says why. */
    public boolean counted() {
        return uncountable == null;
    }

    /** Floating-point operations of training one example: forward, weight gradients, input gradients. */
    public long perExample() {
        if (!counted()) {
            throw new IllegalStateException("the training work is not counted: " + uncountable);
        }
        return 2 * forwardMacs + 2 * forwardMacs + 2 * (forwardMacs - inputMacs);
    }

    /** One line for a run header or bench: "0.879 MFLOP a training example", or why it is not counted. */
    public String line() {
        return counted() ? String.format(java.util.Locale.ROOT, "%.3f MFLOP a training example", perExample() / 1e6)
                : "training work not counted: " + uncountable;
    }
}
