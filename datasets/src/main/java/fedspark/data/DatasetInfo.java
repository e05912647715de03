package fedspark.data;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * What a prepared table holds: how many examples, features per example and classes, and the examples' shape when the
 * source knows it ([channels, height, width] images, [length] sequences; empty: flat values, or not recorded). Stored
 * beside it as {@code _dataset.conf}.
 */
public record DatasetInfo(long examples, int features, int classes, List<Integer> shape) implements Serializable {

    public static final String FILE = "_dataset.conf";

    public DatasetInfo(long examples, int features, int classes) {
        this(examples, features, classes, List.of());
    }

    public DatasetInfo {
        shape = List.copyOf(shape);
    }

    public void write(Path table, Configuration hadoop) {
        Map<String, Object> values = new java.util.LinkedHashMap<>(Map.of("examples", examples, "features", features, "classes", classes));
        if (!shape.isEmpty()) {
            values.put("shape", shape);
        }
        HadoopFiles.writeString(new Path(table, FILE), ConfigFactory.parseMap(values).root().render(), hadoop);
    }

    public static DatasetInfo read(Path table, Configuration hadoop) {
        Path file = new Path(table, FILE);
        Config c = ConfigFactory.parseString(HadoopFiles.readString(file, hadoop));
        return new DatasetInfo(c.getLong("examples"), c.getInt("features"), c.getInt("classes"),
                c.hasPath("shape") ? c.getIntList("shape") : List.of());
    }
}
