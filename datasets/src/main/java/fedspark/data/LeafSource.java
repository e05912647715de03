package fedspark.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.input.PortableDataStream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import scala.Tuple2;

/**
 * LEAF's JSON (FEMNIST, Shakespeare, Sent140 ...): {@code path/train/*.json} and {@code path/test/*.json},
 * each {@code {"users": [...], "num_samples": [...], "user_data": {user: {"x": [[...]], "y": [...]}}}}.
 * Each file is parsed by one task; the user becomes the natural id column. A user's sample count must
 * agree with its data, and no user may be listed twice, in one file or across files.
 */
public final class LeafSource {

    private LeafSource() {
    }

    public static void prepare(SparkSession spark, Path path, Path out) {
        TableWriter.writeSplits(read(spark, new Path(path, "train")), read(spark, new Path(path, "test")), out, "LEAF " + path);
    }

    public static Dataset<Row> read(SparkSession spark, Path folder) {
        if (!HadoopFiles.exists(folder, spark.sparkContext().hadoopConfiguration())) {
            throw new BadInputException("missing folder: " + folder);
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JavaPairRDD<String, PortableDataStream> files = jsc.binaryFiles(new Path(folder, "*.json").toString());
        // Users and the files that list them: a small summary, checked on the driver for duplicates across files.
        List<Tuple2<String, String>> listed = BadInputException.surfaced(
                () -> files.flatMap(file -> users(file._1(), file._2()).iterator()).collect());
        if (listed.isEmpty()) {
            throw new BadInputException(folder + ": no LEAF .json files with users");
        }
        Map<String, String> seen = new java.util.HashMap<>();
        for (Tuple2<String, String> userFile : listed) {
            String earlier = seen.put(userFile._1(), userFile._2());
            if (earlier != null) {
                throw new BadInputException("LEAF user '" + userFile._1() + "' is listed twice: in " + earlier + " and in " + userFile._2());
            }
        }
        JavaRDD<Row> rows = files.flatMap(file -> examples(file._1(), file._2()));
        return spark.createDataFrame(rows, CanonicalTable.SCHEMA_WITH_USER);
    }

    private static JsonNode parse(String file, PortableDataStream stream) throws IOException {
        JsonNode root = new ObjectMapper().readTree(stream.toArray());
        for (String field : List.of("users", "num_samples", "user_data")) {
            if (root == null || !root.has(field)) {
                throw new BadInputException(file + ": not LEAF JSON, no '" + field + "' field");
            }
        }
        if (root.get("users").size() != root.get("num_samples").size()) {
            throw new BadInputException(file + ": " + root.get("users").size() + " users but " + root.get("num_samples").size() + " num_samples");
        }
        return root;
    }

    /** The file's users, after checking each one's data against its num_samples (this pass reads every file). */
    private static List<Tuple2<String, String>> users(String file, PortableDataStream stream) throws IOException {
        JsonNode root = parse(file, stream);
        List<Tuple2<String, String>> result = new ArrayList<>();
        Set<String> inFile = new HashSet<>();
        JsonNode users = root.get("users");
        for (int i = 0; i < users.size(); i++) {
            String user = users.get(i).asText();
            if (!inFile.add(user)) {
                throw new BadInputException(file + ": user '" + user + "' is listed twice");
            }
            userData(file, root, i);
            result.add(new Tuple2<>(user, file));
        }
        return result;
    }

    /** User i's x and y, checked against its num_samples. */
    private static JsonNode userData(String file, JsonNode root, int i) {
        String user = root.get("users").get(i).asText();
        int promised = root.get("num_samples").get(i).asInt();
        JsonNode data = root.get("user_data").get(user);
        if (data == null || !data.has("x") || !data.has("y")) {
            throw new BadInputException(file + ": user '" + user + "' has no user_data with x and y");
        }
        if (data.get("x").size() != promised || data.get("y").size() != promised) {
            throw new BadInputException(file + ": user '" + user + "': num_samples says " + promised + ", but x has "
                    + data.get("x").size() + " and y has " + data.get("y").size() + " examples");
        }
        return data;
    }

    private static Iterator<Row> examples(String file, PortableDataStream stream) throws IOException {
        JsonNode root = parse(file, stream);
        List<Row> rows = new ArrayList<>();
        JsonNode users = root.get("users");
        for (int i = 0; i < users.size(); i++) {
            String user = users.get(i).asText();
            JsonNode data = userData(file, root, i);
            JsonNode x = data.get("x");
            JsonNode y = data.get("y");
            for (int j = 0; j < x.size(); j++) {
                JsonNode features = x.get(j);
                float[] values = new float[features.size()];
                for (int f = 0; f < values.length; f++) {
                    JsonNode value = features.get(f);
                    values[f] = (float) value.asDouble();
                    if (!value.isNumber() || !Float.isFinite(values[f])) {
                        throw new BadInputException(file + ": user '" + user + "': feature " + f + " of example " + j + " is "
                                + value + ", not a finite number");
                    }
                }
                JsonNode label = y.get(j);
                // canConvertToInt alone takes 1.5 (it checks the range only): a label must be a whole number
                if (!label.canConvertToInt() || (!label.isIntegralNumber() && label.asDouble() != Math.rint(label.asDouble()))) {
                    throw new BadInputException(file + ": user '" + user + "': label " + label + " of example " + j + " is not a class index");
                }
                rows.add(RowFactory.create(label.asInt(), values, user));
            }
        }
        return rows.iterator();
    }
}
