package fedspark.data;

import java.io.Serializable;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/** What a prepared table holds: how many examples, features per example and classes. Stored beside it as {@code _dataset.conf}. */
public record DatasetInfo(long examples, int features, int classes) implements Serializable {

    public static final String FILE = "_dataset.conf";

    public void write(Path table, Configuration hadoop) {
        HadoopFiles.writeString(new Path(table, FILE), ConfigFactory.parseMap(Map.of(
                "examples", examples, "features", features, "classes", classes)).root().render(), hadoop);
    }

    public static DatasetInfo read(Path table, Configuration hadoop) {
        Path file = new Path(table, FILE);
        Config c = ConfigFactory.parseString(HadoopFiles.readString(file, hadoop));
        return new DatasetInfo(c.getLong("examples"), c.getInt("features"), c.getInt("classes"));
    }
}
