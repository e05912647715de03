package fedspark.models;

import java.io.Serializable;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * What a run trains: a built-in model ({@link Models#builtIn}), a list of layers from the configuration
 * ({@link LayerList}), or a DL4J configuration or model file ({@link Dl4jFile}). Each compiles to a DL4J configuration
 * for the data's input shape and classes, or says in one line why the data does not fit it.
 */
public interface ModelDefinition extends Serializable {

    /** How the run header and the run's name call it: the built-in name, the file, "layers". */
    String label();

    /**
     * The DL4J configuration for examples of shape {@code in} and {@code classes} classes, every layer with parameters
     * trained by {@code updater}; throws IllegalArgumentException naming the model and the data when they do not fit.
     */
    MultiLayerConfiguration configuration(InputShape in, int classes, long seed, IUpdater updater);

    /** The parameters the definition brings (a model file's), or null: the run initialises them from its seed. */
    default float[] parameters() {
        return null;
    }
}
