package fedspark.models;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.nd4j.linalg.learning.config.IUpdater;

/** What wrapper layers (LastTimeStep, FrozenLayer, ...) hold, and the updaters of a configuration's layers. */
public final class Layers {

    private Layers() {
    }

    /** The layer a wrapper wraps (through any number of wrappers), or {@code layer} itself. */
    public static Layer unwrapped(Layer layer) {
        while (true) {
            if (layer instanceof BaseWrapperLayer wrapper) {
                layer = wrapper.getUnderlying();
            } else if (layer instanceof FrozenLayer frozen) {
                layer = frozen.getLayer();
            } else {
                return layer;
            }
        }
    }

    /** The updater of the first layer with one (wrappers looked into), or null when no layer has parameters to update. */
    public static IUpdater firstUpdater(MultiLayerConfiguration conf) {
        for (int l = 0; l < conf.getConfs().size(); l++) {
            if (unwrapped(conf.getConf(l).getLayer()) instanceof BaseLayer base && base.getIUpdater() != null) {
                return base.getIUpdater();
            }
        }
        return null;
    }

    /** Gives every layer with an updater {@code updater} (wrappers looked into): the run's local step decides how clients train. */
    public static void setUpdater(MultiLayerConfiguration conf, IUpdater updater) {
        for (int l = 0; l < conf.getConfs().size(); l++) {
            if (unwrapped(conf.getConf(l).getLayer()) instanceof BaseLayer base) {
                base.setIUpdater(updater);
                base.setBiasUpdater(null);
            }
        }
    }
}
