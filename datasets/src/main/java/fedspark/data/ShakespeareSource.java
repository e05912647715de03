package fedspark.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * LEAF's Shakespeare (Caldas et al. 2018): JSON files ({@code users}, {@code num_samples}, {@code user_data}) in
 * {@code train/} and {@code test/} whose x are strings of 80 characters and whose y are the character that follows.
 * Each character becomes its index in {@link #VOCABULARY}, LEAF's own (language_utils.ALL_LETTERS, 80 characters, the
 * order LEAF, FedML and Flower's baselines index by): an example is 80 indices (stored as floats, shape [80]), its
 * label the next character's index, 80 classes; the user (a speaking role) is the natural id. The vocabulary is
 * recorded beside the tables ({@code _vocabulary.json}). A character outside it, an x of another length, a y that is
 * not one character, or num_samples that disagree with the data stop prepare naming the file, user and example.
 */
public final class ShakespeareSource {

    /** LEAF's ALL_LETTERS, in its order. */
    public static final String VOCABULARY =
            "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}";
    public static final int LENGTH = 80;
    public static final String VOCABULARY_FILE = "_vocabulary.json";

    private ShakespeareSource() {
    }

    /** The examples of one LEAF Shakespeare file: rows (label, 80 indices, user). */
    public static List<Row> parse(String file, byte[] json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new BadInputException(file + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        for (String field : List.of("users", "num_samples", "user_data")) {
            if (root == null || !root.has(field)) {
                throw new BadInputException(file + ": not LEAF JSON, no '" + field + "' field");
            }
        }
        List<Row> rows = new ArrayList<>();
        JsonNode users = root.get("users");
        for (int i = 0; i < users.size(); i++) {
            String user = users.get(i).asText();
            JsonNode data = root.get("user_data").get(user);
            int promised = root.get("num_samples").path(i).asInt(-1);
            if (data == null || !data.has("x") || !data.has("y")) {
                throw new BadInputException(file + ": user '" + user + "' has no user_data with x and y");
            }
            JsonNode x = data.get("x");
            JsonNode y = data.get("y");
            if (x.size() != promised || y.size() != promised) {
                throw new BadInputException(file + ": user '" + user + "': num_samples says " + promised + ", but x has " + x.size()
                        + " and y has " + y.size() + " examples");
            }
            for (int j = 0; j < x.size(); j++) {
                String text = x.get(j).asText();
                String next = y.get(j).asText();
                String where = file + ": user '" + user + "', example " + j;
                if (!x.get(j).isTextual() || text.length() != LENGTH) {
                    throw new BadInputException(where + ": x has " + text.length() + " characters, LEAF Shakespeare's have " + LENGTH);
                }
                if (!y.get(j).isTextual() || next.length() != 1) {
                    throw new BadInputException(where + ": y is " + y.get(j) + ", not one character");
                }
                float[] features = new float[LENGTH];
                for (int c = 0; c < LENGTH; c++) {
                    features[c] = index(text.charAt(c), where + ", character " + c + " of x");
                }
                rows.add(RowFactory.create(index(next.charAt(0), where + ", y"), features, user));
            }
        }
        return rows;
    }

    private static int index(char c, String where) {
        int index = VOCABULARY.indexOf(c);
        if (index < 0) {
            throw new BadInputException(where + " is '" + c + "' (U+" + String.format("%04X", (int) c) + "), not in LEAF's 80-character vocabulary");
        }
        return index;
    }

    /** Writes {@code out/train}, {@code out/test} (one Spark task a file) and the vocabulary beside them. */
    public static void prepare(SparkSession spark, Path path, Path out) {
        TableWriter.writeSplits(read(spark, new Path(path, "train")), read(spark, new Path(path, "test")), out, "LEAF Shakespeare " + path,
                List.of(LENGTH), VOCABULARY.length());
        try {
            HadoopFiles.writeString(new Path(out, VOCABULARY_FILE), new ObjectMapper().writeValueAsString(VOCABULARY) + "\n",
                    spark.sparkContext().hadoopConfiguration());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Dataset<Row> read(SparkSession spark, Path folder) {
        if (!HadoopFiles.exists(folder, spark.sparkContext().hadoopConfiguration())) {
            throw new BadInputException("missing folder: " + folder);
        }
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext()).binaryFiles(new Path(folder, "*.json").toString())
                .flatMap(file -> parse(file._1(), file._2().toArray()).iterator());
        return spark.createDataFrame(rows, CanonicalTable.SCHEMA_WITH_USER);
    }
}
