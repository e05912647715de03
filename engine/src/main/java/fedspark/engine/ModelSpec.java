package fedspark.engine;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.learning.config.Sgd;

import fedspark.engine.local.Dl4jTrainer;
import fedspark.engine.local.LocalTrainer;
import fedspark.engine.local.lean.LeanNetwork;
import fedspark.models.InputShape;
import fedspark.models.ModelDefinition;
import fedspark.models.Models;

/**
 * Which network a run trains: its definition (a built-in model, layers from the configuration, a DL4J file) and name,
 * input shape, classes, the learning rate its DL4J configuration carries, and whether its biases start uniform
 * (PyTorch's initialisation) rather than at zero.
 */
public record ModelSpec(String name, InputShape input, int classes, double learningRate, boolean uniformBiases, ModelDefinition definition)
        implements Serializable {

    public ModelSpec(String name, InputShape input, int classes, double learningRate) {
        this(name, input, classes, learningRate, false);
    }

    /** The built-in model {@code name}. */
    public ModelSpec(String name, InputShape input, int classes, double learningRate, boolean uniformBiases) {
        this(name, input, classes, learningRate, uniformBiases, Models.builtIn(name));
    }

    /** A model of any definition, named by its label. */
    public ModelSpec(ModelDefinition definition, InputShape input, int classes, double learningRate, boolean uniformBiases) {
        this(definition.label(), input, classes, learningRate, uniformBiases, definition);
    }

    /** The DL4J configuration (checked against the data: throws IllegalArgumentException naming both when they do not fit). */
    public MultiLayerConfiguration configuration() {
        return definition.configuration(input, classes, 0, new Sgd(learningRate));
    }

    /** Why the lean step does not cover this model (its first layer it lacks), or null when it covers every layer. */
    public String leanStepLacks() {
        return LeanNetwork.unsupported(configuration());
    }

    private static final ThreadLocal<Map<ModelSpec, MultiLayerNetwork>> NETWORKS = ThreadLocal.withInitial(HashMap::new);
    private static final ThreadLocal<Map<ModelSpec, LocalTrainer>> LEAN_TRAINERS = ThreadLocal.withInitial(HashMap::new);
    // Building a DL4J configuration costs milliseconds: decide once per spec and JVM, not once per client update.
    private static final Map<ModelSpec, Boolean> LEAN = new ConcurrentHashMap<>();

    /** A fresh network initialised from {@code seed}. */
    public MultiLayerNetwork newNetwork(long seed) {
        return Models.network(definition, input, classes, seed, new Sgd(learningRate), uniformBiases);
    }

    /**
     * A network of this spec owned by the calling thread, built once per thread: an executor runs many
     * client updates in a row and each one overwrites all parameters first.
     */
    public MultiLayerNetwork threadNetwork() {
        return NETWORKS.get().computeIfAbsent(this, spec -> spec.newNetwork(0));
    }

    /** The number of parameters. */
    public int parameterCount() {
        return java.util.Arrays.stream(layerSizes()).sum();
    }

    /** The floating-point work of training one example, from the layers' shapes ({@link fedspark.models.TrainingFlops}). */
    public fedspark.models.TrainingFlops trainingFlops() {
        return fedspark.models.TrainingFlops.of(definition, input, classes);
    }

    /** The parameter count of each layer, in the flat vector's order (per-layer clipping). */
    public int[] layerSizes() {
        org.deeplearning4j.nn.api.Layer[] layers = threadNetwork().getLayers();
        int[] sizes = new int[layers.length];
        for (int i = 0; i < layers.length; i++) {
            sizes[i] = (int) layers[i].numParams();
        }
        return java.util.Arrays.stream(sizes).filter(n -> n > 0).toArray(); // pooling layers have none
    }

    /** True when the lean local step covers every layer of this model. */
    public boolean hasLeanStep() {
        return LEAN.computeIfAbsent(this, spec -> LeanNetwork.supports(spec.configuration()));
    }

    /**
     * The kernels this JVM computes the model's local step with, for the audit: OpenBLAS's, and oneDNN's instruction
     * set where the lean step runs ({@code step} AUTO: its dense products and convolutions are oneDNN's). Two executors
     * give bitwise the same updates only when these are equal.
     */
    public String kernels(TrainSettings.LocalStep step) {
        String blas = fedspark.engine.local.BlasKernel.name();
        return step == TrainSettings.LocalStep.AUTO && hasLeanStep() ? blas + " + oneDNN " + LeanNetwork.oneDnnKernels() : blas;
    }

    /** A new trainer of its own (the lean step where it covers the model and {@code step} allows, else DL4J's). */
    public LocalTrainer newTrainer(TrainSettings.LocalStep step) {
        if (step == TrainSettings.LocalStep.AUTO && hasLeanStep()) {
            return new LeanNetwork(configuration());
        }
        return new Dl4jTrainer(newNetwork(0), classes);
    }

    /** The calling thread's local trainer: the lean step where it covers the model and {@code step} allows, else DL4J's. */
    public LocalTrainer threadTrainer(TrainSettings.LocalStep step) {
        if (step == TrainSettings.LocalStep.AUTO && hasLeanStep()) {
            return LEAN_TRAINERS.get().computeIfAbsent(this,
                    spec -> new LeanNetwork(spec.configuration()));
        }
        return new Dl4jTrainer(threadNetwork(), classes);
    }
}
