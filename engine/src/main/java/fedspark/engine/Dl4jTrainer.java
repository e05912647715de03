package fedspark.engine;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import fedspark.data.ClientShard;
import fedspark.models.FlatParameters;

/** The reference local step: DL4J's own {@code fit()} on each minibatch. Works for every model. */
final class Dl4jTrainer implements LocalTrainer {

    private final MultiLayerNetwork net;
    private final int classes;

    Dl4jTrainer(MultiLayerNetwork net, int classes) {
        this.net = net;
        this.classes = classes;
    }

    @Override
    public void setParameters(float[] flat) {
        FlatParameters.set(net, flat);
    }

    @Override
    public double step(ClientShard shard, int[] order, int from, int to) {
        net.fit(Batches.of(shard, order, from, to, classes));
        return net.score();
    }

    @Override
    public float[] probabilities(ClientShard examples, int[] order, int from, int to) {
        return net.output(Batches.of(examples, order, from, to, classes).getFeatures(), false).dup('c').data().asFloat();
    }

    @Override
    public float[] parameters() {
        return FlatParameters.of(net);
    }
}
