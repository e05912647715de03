package fedspark.models;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration.ListBuilder;
import org.deeplearning4j.nn.conf.dropout.Dropout;
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
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;

/**
 * A model written in the configuration: a HOCON list of layers, the input shape taken from the data, compiled to a
 * DL4J configuration. Each layer is a block with a {@code type}:
 * <pre>
 *   { type = dense, units = 200 }                              activation = relu (or tanh, sigmoid, identity), bias = true
 *   { type = conv2d, filters = 32, kernel = 5, padding = same } stride = 1, padding = valid | same | n | [h, w], activation = relu
 *   { type = max-pool, kernel = 2 }   { type = avg-pool, kernel = 2 }   stride = kernel, padding = valid | same | n
 *   { type = batch-norm }                                      eps = 1e-5, momentum = 0.1 (PyTorch's: the running statistics' step)
 *   { type = dropout, rate = 0.5 }                             the probability of dropping a value (PyTorch's p)
 *   { type = embedding, dim = 8 }                              vocabulary = the number of classes unless given
 *   { type = lstm, units = 256 }                               last-step: keep only the last step's output
 *                                                              (default: when the next layer is not an lstm)
 *   { type = output }                                          softmax over the classes, cross-entropy; last, once
 * </pre>
 * Every weight starts as {@link Initialization} draws it; every layer with parameters is trained by the run's updater.
 *
 * @param label  how the run names the model (the file it came from, or "layers")
 * @param layers the list as HOCON (concise JSON), parsed when compiled
 */
public record LayerList(String label, String layers) implements ModelDefinition {

    private static final Map<String, Set<String>> KEYS = Map.of(
            "dense", Set.of("units", "activation", "bias"),
            "conv2d", Set.of("filters", "kernel", "stride", "padding", "activation", "bias"),
            "max-pool", Set.of("kernel", "stride", "padding"),
            "avg-pool", Set.of("kernel", "stride", "padding"),
            "batch-norm", Set.of("eps", "momentum"),
            "dropout", Set.of("rate"),
            "embedding", Set.of("dim", "vocabulary"),
            "lstm", Set.of("units", "last-step"),
            "output", Set.of("units"));
    private static final List<String> TYPES = List.of("dense", "conv2d", "max-pool", "avg-pool", "batch-norm", "dropout", "embedding", "lstm",
            "output");

    /** The list {@code value} (a HOCON list of layer blocks), checked: every type and key known, one output layer, last. */
    public static LayerList of(String label, com.typesafe.config.ConfigValue value) {
        if (value.valueType() != ConfigValueType.LIST) {
            throw new IllegalArgumentException(label + ": a model definition is a list of layers, got " + value.render());
        }
        LayerList list = new LayerList(label, value.render(com.typesafe.config.ConfigRenderOptions.concise()));
        list.parsed(); // checks the layers now, not on an executor
        return list;
    }

    private List<? extends Config> parsed() {
        List<? extends Config> list;
        try {
            list = ConfigFactory.parseString("layers = " + layers).getConfigList("layers");
        } catch (ConfigException e) {
            throw new IllegalArgumentException(label + ": each layer is a block { type = ..., ... }: " + e.getMessage());
        }
        if (list.isEmpty()) {
            throw new IllegalArgumentException(label + ": the model has no layers");
        }
        for (int i = 0; i < list.size(); i++) {
            Config layer = list.get(i);
            String type = layer.hasPath("type") ? layer.getString("type") : "";
            if (!KEYS.containsKey(type)) {
                throw new IllegalArgumentException(label + ": layer " + (i + 1) + " has type '" + type + "'; layer types: " + String.join(", ", TYPES));
            }
            for (String key : layer.root().keySet()) {
                if (!key.equals("type") && !KEYS.get(type).contains(key)) {
                    throw new IllegalArgumentException(label + ": layer " + (i + 1) + " (" + type + ") has no setting '" + key + "'; it takes "
                            + String.join(", ", KEYS.get(type).stream().sorted().toList()));
                }
            }
            if (type.equals("output") != (i == list.size() - 1)) {
                throw new IllegalArgumentException(label + ": the last layer, and only the last, is { type = output } (layer " + (i + 1) + " is "
                        + type + ")");
            }
        }
        return list;
    }

    @Override
    public MultiLayerConfiguration configuration(InputShape in, int classes, long seed, IUpdater updater) {
        List<? extends Config> list = parsed();
        List<String> types = list.stream().map(layer -> layer.getString("type")).toList();
        boolean spatial = types.stream().anyMatch(t -> t.equals("conv2d") || t.endsWith("-pool"));
        boolean recurrent = types.stream().anyMatch(t -> t.equals("lstm") || t.equals("embedding"));
        if (spatial && in.kind() != InputShape.Kind.IMAGE || recurrent && in.kind() != InputShape.Kind.SEQUENCE) {
            throw new IllegalArgumentException("model " + label + " takes " + (spatial ? "images (channels x height x width)" : "sequences")
                    + ", the data's examples are " + in + " (data.shape gives them one, e.g. " + (spatial ? "[3, 32, 32]" : "[80]") + ")");
        }
        ListBuilder builder = Models.base(seed, updater).list();
        for (int i = 0; i < list.size(); i++) {
            Config layer = list.get(i);
            String next = i + 1 < list.size() ? types.get(i + 1) : "";
            try {
                builder.layer(layer(layer, next, in, classes));
            } catch (ConfigException e) {
                throw new IllegalArgumentException(label + ": layer " + (i + 1) + " (" + types.get(i) + "): " + e.getMessage());
            }
        }
        builder.setInputType(Models.inputType(in));
        MultiLayerConfiguration conf;
        try {
            conf = builder.build();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("model " + label + " does not fit " + in + ": " + e.getMessage());
        }
        for (int i = 0; i < list.size(); i++) {
            if (conf.getConf(i).getLayer() instanceof EmbeddingSequenceLayer embedding) {
                // the input type set its nIn to the values a step (1): its nIn is the vocabulary
                embedding.setNIn(list.get(i).hasPath("vocabulary") ? list.get(i).getInt("vocabulary") : classes);
            }
        }
        return conf;
    }

    private static Layer layer(Config c, String next, InputShape in, int classes) {
        return switch (c.getString("type")) {
            case "dense" -> new DenseLayer.Builder().nOut(positive(c, "units")).activation(activation(c, "relu"))
                    .hasBias(!c.hasPath("bias") || c.getBoolean("bias")).build();
            case "conv2d" -> {
                int[] kernel = pair(c, "kernel", null);
                ConvolutionLayer.Builder conv = new ConvolutionLayer.Builder(kernel).nOut(positive(c, "filters")).stride(pair(c, "stride", new int[] {1, 1}))
                        .activation(activation(c, "relu")).hasBias(!c.hasPath("bias") || c.getBoolean("bias"));
                padding(c, conv::convolutionMode, conv::padding);
                yield conv.build();
            }
            case "max-pool", "avg-pool" -> {
                int[] kernel = c.hasPath("kernel") ? pair(c, "kernel", null) : new int[] {2, 2};
                SubsamplingLayer.Builder pool = new SubsamplingLayer.Builder(c.getString("type").equals("max-pool")
                        ? SubsamplingLayer.PoolingType.MAX : SubsamplingLayer.PoolingType.AVG).kernelSize(kernel).stride(pair(c, "stride", kernel));
                padding(c, pool::convolutionMode, pool::padding);
                yield pool.build();
            }
            case "batch-norm" -> new BatchNormalization.Builder().eps(c.hasPath("eps") ? c.getDouble("eps") : 1e-5)
                    .decay(1 - (c.hasPath("momentum") ? c.getDouble("momentum") : 0.1)).build();
            case "dropout" -> {
                double rate = c.getDouble("rate");
                if (!(rate >= 0 && rate < 1)) {
                    throw new ConfigException.BadValue("rate", "the probability of dropping a value is in [0, 1), got " + rate);
                }
                yield new DropoutLayer.Builder().dropOut(new Dropout(1 - rate)).build();
            }
            case "embedding" -> new EmbeddingSequenceLayer.Builder().nIn(c.hasPath("vocabulary") ? positive(c, "vocabulary") : classes)
                    .nOut(positive(c, "dim")).inputLength(in.width()).hasBias(false).build();
            case "lstm" -> {
                LSTM lstm = new LSTM.Builder().nOut(positive(c, "units")).activation(Activation.TANH).build();
                boolean last = c.hasPath("last-step") ? c.getBoolean("last-step") : !next.equals("lstm");
                yield last ? new LastTimeStep(lstm) : lstm;
            }
            default -> {
                int units = c.hasPath("units") ? positive(c, "units") : classes;
                if (units != classes) {
                    throw new ConfigException.BadValue("units", "the output layer has one unit a class: the data has " + classes + ", got " + units);
                }
                yield new OutputLayer.Builder(LossFunction.MCXENT).nOut(classes).activation(Activation.SOFTMAX).build();
            }
        };
    }

    private static int positive(Config c, String key) {
        int value = c.getInt(key);
        if (value < 1) {
            throw new ConfigException.BadValue(key, "must be at least 1, got " + value);
        }
        return value;
    }

    private static Activation activation(Config c, String otherwise) {
        String name = c.hasPath("activation") ? c.getString("activation") : otherwise;
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "relu" -> Activation.RELU;
            case "tanh" -> Activation.TANH;
            case "sigmoid" -> Activation.SIGMOID;
            case "identity", "linear", "none" -> Activation.IDENTITY;
            default -> throw new ConfigException.BadValue("activation", "relu, tanh, sigmoid or identity, got '" + name + "'");
        };
    }

    /** {@code key} as [height, width]: one number for both, or a list of two. */
    private static int[] pair(Config c, String key, int[] otherwise) {
        if (!c.hasPath(key)) {
            if (otherwise == null) {
                throw new ConfigException.Missing(key);
            }
            return otherwise;
        }
        int[] pair = c.getValue(key).valueType() == ConfigValueType.LIST
                ? c.getIntList(key).stream().mapToInt(Integer::intValue).toArray() : new int[] {c.getInt(key), c.getInt(key)};
        if (pair.length != 2 || pair[0] < 0 || pair[1] < 0) {
            throw new ConfigException.BadValue(key, "one number or [height, width], got " + c.getValue(key).render());
        }
        return pair;
    }

    private static void padding(Config c, java.util.function.Function<ConvolutionMode, ?> mode, java.util.function.Function<int[], ?> padding) {
        if (c.hasPath("padding") && c.getValue("padding").valueType() == ConfigValueType.STRING
                && !c.getString("padding").matches("\\d+")) {
            switch (c.getString("padding")) {
                case "same" -> mode.apply(ConvolutionMode.Same);
                case "valid" -> mode.apply(ConvolutionMode.Truncate);
                default -> throw new ConfigException.BadValue("padding", "valid, same, a number or [height, width], got '" + c.getString("padding") + "'");
            }
            return;
        }
        mode.apply(ConvolutionMode.Truncate);
        padding.apply(pair(c, "padding", new int[] {0, 0}));
    }

    /** The layers' types in order (for headers and errors). */
    public List<String> types() {
        return new ArrayList<>(parsed().stream().map(layer -> layer.getString("type")).toList());
    }
}
