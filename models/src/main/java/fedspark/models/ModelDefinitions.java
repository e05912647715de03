package fedspark.models;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

/**
 * The {@code model} setting: a built-in name ({@link Models#names()}); a list of layers ({@link LayerList}), inline or
 * as {@code { layers = [...] }} (so {@code model { include "models/cifar10-cnn.conf" }} works); or a file: a
 * {@code .conf} holding {@code layers = [...]} (conf/models/), else a DL4J configuration or model ({@link Dl4jFile}).
 */
public final class ModelDefinitions {

    private ModelDefinitions() {
    }

    /** The definition {@code value} names; {@code files} reads a file's bytes (and names a missing one). */
    public static ModelDefinition read(ConfigValue value, Function<String, byte[]> files) {
        if (value.valueType() == ConfigValueType.LIST) {
            return LayerList.of("layers", value);
        }
        if (value.valueType() == ConfigValueType.OBJECT) {
            return layers("model", ((ConfigObject) value).toConfig());
        }
        if (value.valueType() != ConfigValueType.STRING) {
            throw new IllegalArgumentException("model is a built-in name, a file, or a list of layers; got " + value.render());
        }
        String name = (String) value.unwrapped();
        if (Models.names().contains(name)) {
            return Models.builtIn(name);
        }
        if (!isReference(name)) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known models: " + String.join(", ", Models.names())
                    + ", or a file (.conf with layers = [...], a DL4J .json or .zip)");
        }
        byte[] bytes = files.apply(name);
        if (name.endsWith(".conf")) {
            Config file;
            try {
                file = ConfigFactory.parseString(new String(bytes, StandardCharsets.UTF_8)).resolve();
            } catch (ConfigException e) {
                throw new IllegalArgumentException("model file " + name + ": " + e.getMessage());
            }
            return layers(name, file);
        }
        return Dl4jFile.read(name, bytes);
    }

    /** True when {@code model} names a file rather than a built-in model: it has a '/' or a '.'. */
    public static boolean isReference(String model) {
        return model.contains("/") || model.contains(".");
    }

    private static LayerList layers(String label, Config block) {
        if (!block.hasPath("layers") || block.root().size() != 1) {
            throw new IllegalArgumentException(label + ": a model definition holds one setting, layers = [ ... ], got "
                    + String.join(", ", block.root().keySet()));
        }
        return LayerList.of(label, block.getValue("layers"));
    }
}
