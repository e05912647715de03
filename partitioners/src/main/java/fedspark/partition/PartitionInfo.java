package fedspark.partition;

import java.io.Serializable;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import fedspark.data.DatasetInfo;
import fedspark.data.HadoopFiles;

/**
 * What partitioned data holds, stored beside it as {@code _partition.conf}: the scheme, K, the shape of the clients'
 * training data, and how many examples the clients keep as local test sets ({@link PartitionWriter#LOCAL_TEST}).
 */
public record PartitionInfo(String scheme, int clients, DatasetInfo dataset, long localTestExamples) implements Serializable {

    public PartitionInfo(String scheme, int clients, DatasetInfo dataset) {
        this(scheme, clients, dataset, 0);
    }

    public static final String FILE = "_partition.conf";

    public void write(Path root, Configuration hadoop) {
        HadoopFiles.writeString(new Path(root, FILE), ConfigFactory.parseMap(Map.of(
                "scheme", scheme, "clients", clients, "examples", dataset.examples(),
                "features", dataset.features(), "classes", dataset.classes(), "local-test-examples", localTestExamples)).root().render(), hadoop);
    }

    public static PartitionInfo read(Path root, Configuration hadoop) {
        Config c = ConfigFactory.parseString(HadoopFiles.readString(new Path(root, FILE), hadoop));
        return new PartitionInfo(c.getString("scheme"), c.getInt("clients"),
                new DatasetInfo(c.getLong("examples"), c.getInt("features"), c.getInt("classes")),
                c.hasPath("local-test-examples") ? c.getLong("local-test-examples") : 0);
    }
}
