package fedspark.engine;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;

import fedspark.data.ClientShard;
import fedspark.models.FlatParameters;

/** FedSGD's client returning its gradient (the thesis's Algorithm 1): the mean loss gradient over the whole shard at the global model. */
public final class GradientClientUpdate implements ClientUpdate {

    private final ModelSpec model;

    public GradientClientUpdate(ModelSpec model) {
        this.model = model;
    }

    @Override
    public ClientResult update(ClientShard shard, float[] global, int round) {
        int n = shard.size();
        if (n == 0) {
            return new ClientResult(shard.client(), 0, new float[0], 0, 0);
        }
        MultiLayerNetwork net = model.threadNetwork();
        FlatParameters.set(net, global);
        DataSet all = Batches.all(shard, model.classes());
        net.setInput(all.getFeatures());
        net.setLabels(all.getLabels());
        net.computeGradientAndScore();
        // DL4J's backward pass sums over the examples (its updater divides by the batch size): take the mean.
        float[] gradient = net.gradient().gradient().toFloatVector();
        for (int i = 0; i < gradient.length; i++) {
            gradient[i] /= n;
        }
        return new ClientResult(shard.client(), n, gradient, net.score() * n, n);
    }
}
