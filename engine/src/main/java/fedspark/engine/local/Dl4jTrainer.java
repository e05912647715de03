package fedspark.engine.local;

import java.nio.FloatBuffer;

import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import fedspark.data.ClientShard;
import fedspark.models.FlatParameters;
import fedspark.models.Layers;

/**
 * The reference local step: DL4J's own {@code fit()} for plain SGD; for any other {@link StepRule}, DL4J's
 * gradient ({@code computeGradientAndScore()}) and the rule applied to it. Works for every model.
 */
public final class Dl4jTrainer implements LocalTrainer {

    private final MultiLayerNetwork net;
    private final int classes;
    private final double fitLearningRate;
    private final long stepValues; // a recurrent first layer's values a step (features reshaped to [b, values, steps]); 0: none
    private StepRule rule;
    private boolean fitApplies = true;
    private float[] velocity;

    /** {@code net}'s own updater must be plain SGD: fit() uses it for plain steps at its learning rate. */
    public Dl4jTrainer(MultiLayerNetwork net, int classes) {
        this.net = net;
        this.classes = classes;
        this.fitLearningRate = StepRule.configuredIn(net.getLayerWiseConfigurations()).learningRate();
        Layer first = Layers.unwrapped(net.getLayerWiseConfigurations().getConf(0).getLayer());
        this.stepValues = first instanceof BaseRecurrentLayer rnn && net.getLayerWiseConfigurations().getInputPreProcess(0) == null ? rnn.getNIn() : 0;
    }

    /**
     * The batch's features as the first layer takes them: flat [b, d], or for a recurrent first layer [b, values, steps]
     * (a sequence stored channel after channel).
     */
    private INDArray input(INDArray flat) {
        return stepValues == 0 ? flat : flat.reshape('c', flat.size(0), stepValues, flat.size(1) / stepValues);
    }

    @Override
    public void setParameters(float[] flat) {
        FlatParameters.set(net, flat);
        velocity = null;
    }

    @Override
    public void setStepRule(StepRule rule) {
        this.rule = rule;
        fitApplies = rule == null || rule.isPlainSgd() && rule.learningRate() == fitLearningRate;
    }

    @Override
    public double step(ClientShard shard, int[] order, int from, int to) {
        DataSet batch = Batches.of(shard, order, from, to, classes);
        if (fitApplies) {
            net.fit(new DataSet(input(batch.getFeatures()), batch.getLabels()));
            return net.score();
        }
        net.setInput(input(batch.getFeatures()));
        net.setLabels(batch.getLabels());
        net.computeGradientAndScore();
        // DL4J's backward pass sums over the minibatch; its updater divides by the batch size.
        float[] gradient = net.gradient().gradient().toFloatVector();
        for (int i = 0; i < gradient.length; i++) {
            gradient[i] /= to - from;
        }
        float[] w = FlatParameters.of(net);
        if (velocity == null) {
            velocity = new float[w.length];
        }
        rule.apply(w, gradient, velocity);
        FlatParameters.set(net, w);
        return net.score();
    }

    @Override
    public float[] probabilities(ClientShard examples, int[] order, int from, int to) {
        return net.output(input(Batches.of(examples, order, from, to, classes).getFeatures()), false).dup('c').data().asFloat();
    }

    @Override
    public float[] parameters() {
        return FlatParameters.of(net);
    }
}
