package fedspark.models;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * A model from a file: a DL4J network configuration as JSON ({@code MultiLayerConfiguration.toJson()}), or a model as
 * {@code ModelSerializer} writes it (a zip with the configuration and the parameters; a run's {@code model.zip}). The run
 * trains every layer with its own updater (the file's updaters are replaced) and starts from the file's parameters
 * when it has some, else from its seed. The file's input and output must fit the data: its first layer takes as many
 * values as an example holds (and, for images, the same channels x height x width), its last gives one a class.
 */
public final class Dl4jFile implements ModelDefinition {

    private final String label;
    private final String json;
    // The file's parameters: read on the driver for the run's start; executors overwrite theirs every update.
    private final transient float[] parameters;

    private Dl4jFile(String label, String json, float[] parameters) {
        this.label = label;
        this.json = json;
        this.parameters = parameters;
    }

    /** The file {@code label} whose bytes are {@code bytes}: a ModelSerializer zip or a configuration in JSON. */
    public static Dl4jFile read(String label, byte[] bytes) {
        if (bytes.length >= 2 && bytes[0] == 'P' && bytes[1] == 'K') {
            try {
                MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(bytes), false);
                return new Dl4jFile(label, net.getLayerWiseConfigurations().toJson(), net.params().castTo(DataType.FLOAT).toFloatVector());
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException("model file " + label + " is a zip but not a DL4J model ModelSerializer wrote: " + e.getMessage());
            }
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        try {
            MultiLayerConfiguration.fromJson(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("model file " + label + " is neither a DL4J model (zip) nor a MultiLayerConfiguration in JSON: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        return new Dl4jFile(label, text, null);
    }

    @Override
    public String label() {
        return label;
    }

    @Override
    public float[] parameters() {
        return parameters;
    }

    @Override
    public MultiLayerConfiguration configuration(InputShape in, int classes, long seed, IUpdater updater) {
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(json);
        conf.setDataType(DataType.FLOAT);
        Layers.setUpdater(conf, updater);
        int n = conf.getConfs().size();
        InputPreProcessor pre = conf.getInputPreProcess(0);
        Layer first = Layers.unwrapped(conf.getConf(0).getLayer());
        String takes = null;
        if (pre instanceof FeedForwardToCnnPreProcessor cnn) {
            InputShape image = InputShape.image((int) cnn.getNumChannels(), (int) cnn.getInputHeight(), (int) cnn.getInputWidth());
            if (!image.equals(in)) {
                takes = image.toString();
            }
        } else if (first instanceof FeedForwardLayer ff && !(first instanceof EmbeddingLayer || first instanceof EmbeddingSequenceLayer
                || first instanceof BaseRecurrentLayer) && ff.getNIn() != in.size()) {
            takes = ff.getNIn() + " values";
        } else if (first instanceof BaseRecurrentLayer rnn && in.size() % rnn.getNIn() != 0) {
            takes = rnn.getNIn() + " values a step";
        }
        if (takes != null) {
            throw new IllegalArgumentException("model file " + label + " takes " + takes + ", the data's examples are " + in
                    + " (" + in.size() + " values)");
        }
        Layer last = Layers.unwrapped(conf.getConf(n - 1).getLayer());
        if (last instanceof FeedForwardLayer out && out.getNOut() != classes) {
            throw new IllegalArgumentException("model file " + label + " gives " + out.getNOut() + " outputs, the data has " + classes + " classes");
        }
        return conf;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Dl4jFile file && file.label.equals(label) && file.json.equals(json);
    }

    @Override
    public int hashCode() {
        return label.hashCode() * 31 + json.hashCode();
    }

    @Override
    public String toString() {
        return "Dl4jFile[" + label + (parameters == null ? "" : ", " + parameters.length + " parameters") + "]";
    }
}
