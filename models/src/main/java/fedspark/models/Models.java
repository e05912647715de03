package fedspark.models;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration.ListBuilder;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

/**
 * The models by name. Deeplearning4j defines each of them and is the reference for their math.
 *
 * <p>Weights start from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default scale, so runs are comparable with a
 * plain PyTorch loop; biases from zero, or (uniformBiases) from the same distribution as PyTorch draws them
 * ({@link Initialization}). Models of the user's own: {@link LayerList} (layers in the configuration) and {@link Dl4jFile}.
 */
public final class Models {

    /** Builds the layers of a model for an input shape and a number of classes. */
    @FunctionalInterface
    interface Definition {
        ListBuilder layers(NeuralNetConfiguration.Builder base, InputShape in, int classes);
    }

    private static final Map<String, Definition> DEFINITIONS = new LinkedHashMap<>();
    private static final Set<String> CONVOLUTIONAL = Set.of("mcmahan-cnn", "lenet5", "niid-cnn");

    static {
        // McMahan et al. 2017: 784-200-200-10, ReLU (199,210 parameters on MNIST).
        DEFINITIONS.put("mcmahan-2nn", (b, in, classes) -> dense(b, in, classes, 200, 200));
        // McMahan et al. 2017: conv 5x5x32, pool, conv 5x5x64, pool, dense 512, softmax; 'same' padding.
        DEFINITIONS.put("mcmahan-cnn", (b, in, classes) -> b.convolutionMode(ConvolutionMode.Same).list()
                .layer(conv(32).build()).layer(maxPool())
                .layer(conv(64).build()).layer(maxPool())
                .layer(new DenseLayer.Builder().nOut(512).activation(Activation.RELU).build())
                .layer(output(classes))
                .setInputType(InputType.convolutionalFlat(in.height(), in.width(), in.channels())));
        // The thesis's 2NN: 784-128-64-10, ReLU.
        DEFINITIONS.put("thesis-2nn", (b, in, classes) -> dense(b, in, classes, 128, 64));
        // LeNet-5 (LeCun et al. 1998) on 28x28: conv 5x5x6 'same', pool, conv 5x5x16, pool, 120, 84, softmax.
        DEFINITIONS.put("lenet5", (b, in, classes) -> b.list()
                .layer(conv(6).convolutionMode(ConvolutionMode.Same).build()).layer(maxPool())
                .layer(conv(16).convolutionMode(ConvolutionMode.Truncate).build()).layer(maxPool())
                .layer(new DenseLayer.Builder().nOut(120).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nOut(84).activation(Activation.RELU).build())
                .layer(output(classes))
                .setInputType(InputType.convolutionalFlat(in.height(), in.width(), in.channels())));
        // NIID-Bench's simple CNN: conv 5x5x6, pool, conv 5x5x16, pool, 120, 84, softmax; no padding.
        DEFINITIONS.put("niid-cnn", (b, in, classes) -> b.convolutionMode(ConvolutionMode.Truncate).list()
                .layer(conv(6).build()).layer(maxPool())
                .layer(conv(16).build()).layer(maxPool())
                .layer(new DenseLayer.Builder().nOut(120).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nOut(84).activation(Activation.RELU).build())
                .layer(output(classes))
                .setInputType(InputType.convolutionalFlat(in.height(), in.width(), in.channels())));
        // Multinomial logistic regression: one softmax layer.
        DEFINITIONS.put("logreg", (b, in, classes) -> dense(b, in, classes));
    }

    private Models() {
    }

    /** The names {@link #configuration} accepts. */
    public static Set<String> names() {
        return DEFINITIONS.keySet();
    }

    /** The configuration of model {@code name}, trained by {@code updater}, initialised from {@code seed}. */
    public static MultiLayerConfiguration configuration(String name, InputShape in, int classes, long seed, IUpdater updater) {
        Definition definition = DEFINITIONS.get(name);
        if (definition == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known models: " + String.join(", ", names()));
        }
        if (classes < 2) {
            throw new IllegalArgumentException("a classifier needs at least 2 classes, got " + classes);
        }
        if (CONVOLUTIONAL.contains(name) && in.kind() != InputShape.Kind.IMAGE) {
            throw new IllegalArgumentException("model " + name + " takes images (channels x height x width), the data's examples are " + in
                    + " (data.shape gives them one, e.g. [3, 32, 32])");
        }
        return definition.layers(base(seed, updater), in, classes).build();
    }

    /** The settings every model shares: its seed, float parameters, the run's updater, minibatch gradients. */
    static NeuralNetConfiguration.Builder base(long seed, IUpdater updater) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.UNIFORM) // redrawn reproducibly by Initialization
                .biasInit(0.0)
                .updater(updater)
                .miniBatch(true);
    }

    /** DL4J's input type for examples of shape {@code in}, fed flat: [batch, values]. */
    static InputType inputType(InputShape in) {
        return switch (in.kind()) {
            case IMAGE -> InputType.convolutionalFlat(in.height(), in.width(), in.channels());
            case SEQUENCE -> InputType.recurrent(in.channels(), in.width());
            case FLAT -> InputType.feedForward(in.size());
        };
    }

    /** The built-in model {@code name} as a definition. */
    public static ModelDefinition builtIn(String name) {
        if (!DEFINITIONS.containsKey(name)) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known models: " + String.join(", ", names()));
        }
        return new BuiltIn(name);
    }

    /** A model of {@link #names()}. */
    private record BuiltIn(String label) implements ModelDefinition {
        @Override
        public MultiLayerConfiguration configuration(InputShape in, int classes, long seed, IUpdater updater) {
            return Models.configuration(label, in, classes, seed, updater);
        }
    }

    /**
     * An initialised network of {@code definition}: the parameters it brings (a model file's), else drawn from
     * {@code seed} alone ({@link Initialization}).
     */
    public static MultiLayerNetwork network(ModelDefinition definition, InputShape in, int classes, long seed, IUpdater updater,
                                            boolean uniformBiases) {
        MultiLayerNetwork net = new MultiLayerNetwork(definition.configuration(in, classes, seed, updater));
        net.init();
        float[] given = definition.parameters();
        if (given != null) {
            FlatParameters.set(net, given);
        } else {
            Initialization.initialize(net, seed, uniformBiases);
        }
        return net;
    }

    /** An initialised network; its parameters depend on {@code seed} only. */
    public static MultiLayerNetwork network(String name, InputShape in, int classes, long seed, IUpdater updater) {
        return network(name, in, classes, seed, updater, false);
    }

    public static MultiLayerNetwork network(String name, InputShape in, int classes, long seed, IUpdater updater, boolean uniformBiases) {
        return network(builtIn(name), in, classes, seed, updater, uniformBiases);
    }

    /** An initialised network trained by plain SGD at {@code learningRate}. */
    public static MultiLayerNetwork network(String name, InputShape in, int classes, long seed, double learningRate) {
        return network(name, in, classes, seed, new Sgd(learningRate));
    }

    /** Number of trainable parameters of model {@code name}. */
    public static long parameterCount(String name, InputShape in, int classes) {
        return network(name, in, classes, 0, new Sgd(0.1)).numParams();
    }

    private static ListBuilder dense(NeuralNetConfiguration.Builder base, InputShape in, int classes, int... hidden) {
        ListBuilder list = base.list();
        for (int width : hidden) {
            list.layer(new DenseLayer.Builder().nOut(width).activation(Activation.RELU).build());
        }
        return list.layer(output(classes)).setInputType(InputType.feedForward(in.size()));
    }

    private static ConvolutionLayer.Builder conv(int channels) {
        return new ConvolutionLayer.Builder(5, 5).stride(1, 1).nOut(channels).activation(Activation.RELU);
    }

    private static SubsamplingLayer maxPool() {
        return new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build();
    }

    private static OutputLayer output(int classes) {
        return new OutputLayer.Builder(LossFunction.MCXENT).nOut(classes).activation(Activation.SOFTMAX).build();
    }
}
