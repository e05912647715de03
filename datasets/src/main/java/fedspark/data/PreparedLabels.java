package fedspark.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * What prepare found in the tables it wrote: each split's examples, features and label counts, recorded beside the
 * table as {@code _labels.conf} and said as lines for the command's output, with a warning when the training labels
 * are not exactly 0..C-1 (C = the largest label + 1, the model's outputs): a label 12 among 0..9 otherwise trains a
 * 13-class model without a word.
 */
public final class PreparedLabels {

    public static final String FILE = "_labels.conf";

    private PreparedLabels() {
    }

    /** Counts the labels of {@code prepared}/train and /test, records them beside each table, and says what was found. */
    public static List<String> recordAndDescribe(SparkSession spark, Path prepared) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Map<Integer, Long> train = record(spark, new Path(prepared, "train"), hadoop);
        Map<Integer, Long> test = record(spark, new Path(prepared, "test"), hadoop);
        DatasetInfo info = DatasetInfo.read(new Path(prepared, "train"), hadoop);
        DatasetInfo testInfo = DatasetInfo.read(new Path(prepared, "test"), hadoop);
        return describe(info, train, testInfo, test);
    }

    /** The lines prepare prints for splits of these sizes and label counts (label to examples). */
    static List<String> describe(DatasetInfo train, Map<Integer, Long> trainCounts, DatasetInfo test, Map<Integer, Long> testCounts) {
        List<String> lines = new ArrayList<>();
        lines.add("prepared train: " + train.examples() + " examples of " + train.features() + " features; labels (label: examples) "
                + counts(trainCounts));
        lines.add("prepared test: " + test.examples() + " examples of " + test.features() + " features; labels (label: examples) "
                + counts(testCounts));
        int classes = train.classes();
        List<Integer> missing = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            if (!trainCounts.containsKey(c)) {
                missing.add(c);
            }
        }
        if (!missing.isEmpty()) {
            lines.add("warning: the training labels are not 0.." + (classes - 1) + ": " + missing.size() + " of them ("
                    + abbreviated(missing) + ") have no training example, yet the model gets " + classes + " outputs (the largest label "
                    + (classes - 1) + " + 1); relabel the source to 0..C-1 if these are not real classes");
        }
        List<Integer> unseen = new ArrayList<>();
        for (int c : testCounts.keySet()) {
            if (!trainCounts.containsKey(c)) {
                unseen.add(c);
            }
        }
        if (!unseen.isEmpty()) {
            lines.add("warning: test labels " + abbreviated(unseen) + " have no training example");
        }
        return lines;
    }

    /** The label counts recorded beside a prepared table (label to examples), or null when it has none (an older table). */
    public static Map<Integer, Long> read(Path table, Configuration hadoop) {
        Path file = new Path(table, FILE);
        if (!HadoopFiles.exists(file, hadoop)) {
            return null;
        }
        Config counts = ConfigFactory.parseString(HadoopFiles.readString(file, hadoop)).getConfig("counts");
        Map<Integer, Long> out = new TreeMap<>();
        counts.root().keySet().forEach(k -> out.put(Integer.parseInt(k), counts.getLong("\"" + k + "\"")));
        return out;
    }

    private static Map<Integer, Long> record(SparkSession spark, Path table, Configuration hadoop) {
        Map<Integer, Long> counts = new TreeMap<>();
        for (Row row : spark.read().parquet(table.toString()).groupBy(CanonicalTable.LABEL).count().collectAsList()) {
            counts.put(row.getInt(0), row.getLong(1));
        }
        StringBuilder conf = new StringBuilder("# examples per label, as prepare found them\ncounts {\n");
        counts.forEach((label, n) -> conf.append("  \"").append(label).append("\" = ").append(n).append('\n'));
        conf.append("}\n");
        HadoopFiles.writeString(new Path(table, FILE), conf.toString(), hadoop);
        return counts;
    }

    private static String counts(Map<Integer, Long> counts) {
        StringBuilder out = new StringBuilder();
        counts.forEach((label, n) -> out.append(out.length() == 0 ? "" : ", ").append(label).append(": ").append(n));
        return "{" + out + "}";
    }

    private static String abbreviated(List<Integer> labels) {
        List<String> shown = labels.stream().limit(20).map(String::valueOf).toList();
        return String.join(", ", shown) + (labels.size() > 20 ? " and " + (labels.size() - 20) + " more" : "");
    }
}
