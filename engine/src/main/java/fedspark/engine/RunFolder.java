package fedspark.engine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.models.FlatParameters;

/**
 * Everything one run writes, under one folder on any Hadoop file system: {@code config.conf} (the
 * resolved configuration), {@code metrics.csv} (rewritten after every round, so a stopped run keeps its
 * rows), {@code metrics/} (Parquet, at the end), {@code model.zip} (the final DL4J model), {@code checkpoint.bin}
 * (the global model every few rounds), {@code audit.csv} / {@code audit.conf} (what Spark moved, per round) and, when
 * clients keep local test sets, {@code clients/round=<r>/} (Parquet: every client's scores of round r).
 */
public final class RunFolder {

    private static final int CHECKPOINT_MAGIC = 0x46534332; // "FSC2": round, parameters, server state, client-state versions

    private final Path root;
    private final Configuration hadoop;
    private final List<RoundMetrics> rows = new ArrayList<>();

    private RunFolder(Path root, Configuration hadoop) {
        this.root = root;
        this.hadoop = hadoop;
    }

    /** Creates the folder; refuses one that already holds a file, so no earlier run is overwritten. */
    public static RunFolder create(Path root, Configuration hadoop) {
        try {
            FileSystem fs = root.getFileSystem(hadoop);
            // Hidden files are temporaries a write killed before its rename left behind: no run is in such a folder.
            if (fs.exists(root) && java.util.Arrays.stream(fs.listStatus(root)).anyMatch(f -> !f.getPath().getName().startsWith("."))) {
                throw new BadInputException("run folder " + root + " already holds a run; choose another");
            }
            fs.mkdirs(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create run folder " + root, e);
        }
        return new RunFolder(root, hadoop);
    }

    /** Reopens a stopped run's folder to go on from its checkpoint: keeps the metrics rows up to that round. */
    public static RunFolder reopen(Path root, int lastRound, Configuration hadoop) {
        RunFolder folder = new RunFolder(root, hadoop);
        for (RoundMetrics row : readMetricsCsv(root, hadoop)) {
            if (row.round() <= lastRound) {
                folder.rows.add(row);
            }
        }
        return folder;
    }

    /** The rows of {@code root/metrics.csv} (none when it does not exist). */
    public static List<RoundMetrics> readMetricsCsv(Path root, Configuration hadoop) {
        Path csv = new Path(root, "metrics.csv");
        List<RoundMetrics> rows = new ArrayList<>();
        if (!HadoopFiles.exists(csv, hadoop)) {
            return rows;
        }
        return parseMetricsCsv(HadoopFiles.readString(csv, hadoop), csv.toString());
    }

    /** The rows of a metrics CSV ({@code source} names it in errors): the fixed columns, then a strategy's own. */
    public static List<RoundMetrics> parseMetricsCsv(String text, String source) {
        List<RoundMetrics> rows = new ArrayList<>();
        String[] lines = text.split("\n");
        String[] header = lines[0].split(",");
        if (!lines[0].startsWith(RoundMetrics.CSV_HEADER)) {
            throw new BadInputException(source + ": not a metrics CSV (its header is not " + RoundMetrics.CSV_HEADER + ", ...)");
        }
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(",");
            if (f.length != header.length) {
                throw new BadInputException(source + ": line " + (i + 1) + " has " + f.length + " fields, the header " + header.length);
            }
            Map<String, Double> extra = new LinkedHashMap<>();
            for (int c = 7; c < header.length; c++) {
                extra.put(header[c], Double.parseDouble(f[c]));
            }
            rows.add(new RoundMetrics(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]), extra));
        }
        return rows;
    }

    /**
     * Writes {@code checkpoint.bin}, replacing the previous one atomically: the round, the parameters, the strategy's
     * server state (named vectors) and the version of each client's state.
     */
    public void writeCheckpoint(FederatedRun.Checkpoint checkpoint) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(CHECKPOINT_MAGIC);
            out.writeInt(checkpoint.round());
            writeVector(out, checkpoint.parameters());
            Map<String, float[]> state = new TreeMap<>(checkpoint.serverState());
            out.writeInt(state.size());
            for (Map.Entry<String, float[]> entry : state.entrySet()) {
                out.writeUTF(entry.getKey());
                writeVector(out, entry.getValue());
            }
            Map<Integer, Integer> versions = new TreeMap<>(checkpoint.clientStateVersions());
            out.writeInt(versions.size());
            for (Map.Entry<Integer, Integer> entry : versions.entrySet()) {
                out.writeInt(entry.getKey());
                out.writeInt(entry.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        HadoopFiles.writeBytes(new Path(root, "checkpoint.bin"), bytes.toByteArray(), hadoop);
    }

    public static FederatedRun.Checkpoint readCheckpoint(Path root, Configuration hadoop) {
        Path file = new Path(root, "checkpoint.bin");
        byte[] bytes = HadoopFiles.readBytes(file, hadoop);
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (bytes.length < 12 || in.readInt() != CHECKPOINT_MAGIC) {
                throw new BadInputException(file + ": not a fedspark checkpoint of this version");
            }
            int round = in.readInt();
            float[] parameters = readVector(in);
            Map<String, float[]> state = new TreeMap<>();
            for (int n = in.readInt(); n > 0; n--) {
                String name = in.readUTF();
                state.put(name, readVector(in));
            }
            Map<Integer, Integer> versions = new HashMap<>();
            for (int n = in.readInt(); n > 0; n--) {
                versions.put(in.readInt(), in.readInt());
            }
            if (in.available() != 0) {
                throw new BadInputException(file + ": " + in.available() + " bytes after the checkpoint's end");
            }
            return new FederatedRun.Checkpoint(round, parameters, state, versions);
        } catch (IOException e) {
            throw new BadInputException(file + ": truncated checkpoint", e);
        }
    }

    private static void writeVector(DataOutputStream out, float[] vector) throws IOException {
        out.writeInt(vector.length);
        ByteBuffer buffer = ByteBuffer.allocate(4 * vector.length);
        buffer.asFloatBuffer().put(vector);
        out.write(buffer.array());
    }

    private static float[] readVector(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > in.available() / 4) {
            throw new IOException("vector of " + length + " floats in " + in.available() + " bytes");
        }
        byte[] raw = new byte[4 * length];
        in.readFully(raw);
        float[] vector = new float[length];
        ByteBuffer.wrap(raw).asFloatBuffer().get(vector);
        return vector;
    }

    public Path root() {
        return root;
    }

    /** Where strategies that keep client state store it (see {@link fedspark.engine.state.ClientStateStore}). */
    public Path clientStateRoot() {
        return new Path(root, "client-state");
    }

    public void writeConfig(String resolvedConfig) {
        HadoopFiles.writeString(new Path(root, "config.conf"), resolvedConfig, hadoop);
    }

    public void addMetrics(RoundMetrics row) {
        rows.add(row);
        StringBuilder csv = new StringBuilder(row.csvHeader()).append('\n');
        for (RoundMetrics r : rows) {
            csv.append(r.csv()).append('\n');
        }
        HadoopFiles.writeString(new Path(root, "metrics.csv"), csv.toString(), hadoop);
    }

    public List<RoundMetrics> metrics() {
        return List.copyOf(rows);
    }

    /** Writes {@code audit.csv} (every training task attempt) and {@code audit.conf} (its totals); see {@link PrivacyAudit}. */
    public void writeAudit(PrivacyAudit audit) {
        HadoopFiles.writeString(new Path(root, "audit.csv"), audit.csv(), hadoop);
        HadoopFiles.writeString(new Path(root, "audit.conf"), audit.summary(), hadoop);
    }

    /** The audit rows of rounds up to {@code lastRound} (a resumed run goes on from them). */
    public List<PrivacyAudit.TaskRow> auditRows(int lastRound) {
        Path csv = new Path(root, "audit.csv");
        if (!HadoopFiles.exists(csv, hadoop)) {
            return List.of();
        }
        return PrivacyAudit.parseCsv(HadoopFiles.readString(csv, hadoop)).stream().filter(row -> row.round() <= lastRound).toList();
    }

    /**
     * Writes {@code metrics/} (one Parquet file; derived from metrics.csv, so a resumed run rewrites it) with
     * parquet-hadoop directly: a Spark SQL job for a few rows costs the first query's start-up, seconds at the end of
     * every run.
     */
    public void writeMetricsParquet() {
        List<String> extra = rows.isEmpty() ? List.of() : List.copyOf(rows.get(0).extra().keySet());
        StringBuilder schema = new StringBuilder("message metrics { required int32 round; required int32 clients; required int64 samples; "
                + "required double train_loss; required double test_loss; required double test_accuracy; required double seconds;");
        extra.forEach(column -> schema.append(" optional double ").append(column).append(';'));
        writeTable(new Path(root, "metrics"), schema.append(" }").toString(), rows, (r, g) -> {
            g.append("round", r.round()).append("clients", r.clients()).append("samples", r.samples()).append("train_loss", r.trainLoss())
                    .append("test_loss", r.testLoss()).append("test_accuracy", r.testAccuracy()).append("seconds", r.seconds());
            for (String column : extra) {
                Double value = r.extra().get(column);
                if (value != null) {
                    g.append(column, value);
                }
            }
        });
    }

    /**
     * Replaces {@code dir} with one Parquet file of {@code rows}, each filled into a record of {@code schema} by {@code fill}.
     * parquet-hadoop directly: a Spark SQL job for a few rows costs a query's start-up, seconds in a run.
     */
    private <T> void writeTable(Path dir, String schema, List<T> rows,
                                java.util.function.BiConsumer<T, org.apache.parquet.example.data.Group> fill) {
        org.apache.parquet.schema.MessageType type = org.apache.parquet.schema.MessageTypeParser.parseMessageType(schema);
        org.apache.parquet.example.data.simple.SimpleGroupFactory records = new org.apache.parquet.example.data.simple.SimpleGroupFactory(type);
        try {
            dir.getFileSystem(hadoop).delete(dir, true);
            try (org.apache.parquet.hadoop.ParquetWriter<org.apache.parquet.example.data.Group> writer =
                         org.apache.parquet.hadoop.example.ExampleParquetWriter.builder(new Path(dir, "part-00000.parquet"))
                                 .withConf(hadoop).withType(type).build()) {
                for (T row : rows) {
                    org.apache.parquet.example.data.Group record = records.newGroup();
                    fill.accept(row, record);
                    writer.write(record);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir, e);
        }
    }

    /** Writes round {@code scores}' round of {@code clients/} (replacing what a stopped run may have left of it). */
    public void writeClientScores(List<fedspark.engine.evaluation.ClientScore> scores) {
        if (scores.isEmpty()) {
            return;
        }
        writeTable(new Path(new Path(root, "clients"), "round=" + scores.get(0).round()),
                "message clients { required int32 client; required int64 train_examples; required int64 test_examples; required double loss; "
                        + "required double accuracy; required double personal_loss; required double personal_accuracy; }",
                scores, (c, g) -> g.append("client", c.client()).append("train_examples", c.trainExamples())
                        .append("test_examples", c.testExamples()).append("loss", c.loss()).append("accuracy", c.accuracy())
                        .append("personal_loss", c.personalLoss()).append("personal_accuracy", c.personalAccuracy()));
    }

    /** The scores of the last round {@code clients/} holds (none when the run has no per-client evaluation), read without Spark. */
    public static List<fedspark.engine.evaluation.ClientScore> readLastClientScores(Path root, Configuration hadoop) {
        Path clients = new Path(root, "clients");
        List<fedspark.engine.evaluation.ClientScore> scores = new ArrayList<>();
        try {
            FileSystem fs = clients.getFileSystem(hadoop);
            if (!fs.exists(clients)) {
                return scores;
            }
            int last = -1;
            for (org.apache.hadoop.fs.FileStatus status : fs.listStatus(clients, p -> p.getName().startsWith("round="))) {
                last = Math.max(last, Integer.parseInt(status.getPath().getName().substring("round=".length())));
            }
            if (last < 0) {
                return scores;
            }
            for (org.apache.hadoop.fs.FileStatus file : fs.listStatus(new Path(clients, "round=" + last), p -> p.getName().endsWith(".parquet"))) {
                try (org.apache.parquet.hadoop.ParquetReader<org.apache.parquet.example.data.Group> reader =
                             org.apache.parquet.hadoop.ParquetReader.builder(new org.apache.parquet.hadoop.example.GroupReadSupport(), file.getPath())
                                     .withConf(hadoop).build()) {
                    for (org.apache.parquet.example.data.Group g = reader.read(); g != null; g = reader.read()) {
                        scores.add(new fedspark.engine.evaluation.ClientScore(last, g.getInteger("client", 0), g.getLong("train_examples", 0),
                                g.getLong("test_examples", 0), g.getDouble("loss", 0), g.getDouble("accuracy", 0),
                                g.getDouble("personal_loss", 0), g.getDouble("personal_accuracy", 0)));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the per-client scores in " + clients, e);
        }
        scores.sort(java.util.Comparator.comparingInt(fedspark.engine.evaluation.ClientScore::client));
        return scores;
    }

    /** Writes {@code model.zip} (replacing one a stopped run may have left). */
    public void writeModel(ModelSpec model, float[] parameters) {
        MultiLayerNetwork net = model.newNetwork(0);
        FlatParameters.set(net, parameters);
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        try {
            ModelSerializer.writeModel(net, zip, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise the model", e);
        }
        HadoopFiles.writeBytes(new Path(root, "model.zip"), zip.toByteArray(), hadoop);
    }

    /** True when the run wrote its final model. */
    public static boolean isComplete(Path root, Configuration hadoop) {
        return HadoopFiles.exists(new Path(root, "model.zip"), hadoop);
    }
}
