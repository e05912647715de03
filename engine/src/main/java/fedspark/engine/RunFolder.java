package fedspark.engine;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.models.FlatParameters;

/**
 * Everything one run writes, under one folder on any Hadoop file system: {@code config.conf} (the
 * resolved configuration), {@code metrics.csv} (rewritten after every round, so a stopped run keeps its
 * rows), {@code metrics/} (Parquet, at the end), {@code model.zip} (the final DL4J model), {@code checkpoint.bin}
 * (the global model every few rounds) and {@code audit.csv} / {@code audit.conf} (what Spark moved, per round).
 */
public final class RunFolder {

    private static final int CHECKPOINT_MAGIC = 0x46534350; // "FSCP"

    private final Path root;
    private final Configuration hadoop;
    private final List<RoundMetrics> rows = new ArrayList<>();

    private RunFolder(Path root, Configuration hadoop) {
        this.root = root;
        this.hadoop = hadoop;
    }

    /** Creates the folder; refuses one that already holds files, so no earlier run is overwritten. */
    public static RunFolder create(Path root, Configuration hadoop) {
        try {
            FileSystem fs = root.getFileSystem(hadoop);
            if (fs.exists(root) && fs.listStatus(root).length > 0) {
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
        String[] lines = HadoopFiles.readString(csv, hadoop).split("\n");
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(",");
            rows.add(new RoundMetrics(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6])));
        }
        return rows;
    }

    /** The global model after a round: enough, with the run's seed, to go on exactly as if never stopped. */
    public record Checkpoint(int round, float[] parameters) {
    }

    /** Writes {@code checkpoint.bin} (the round, then the parameters), replacing the previous one atomically. */
    public void writeCheckpoint(int round, float[] parameters) {
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(12 + 4 * parameters.length);
        bytes.putInt(CHECKPOINT_MAGIC).putInt(round).putInt(parameters.length);
        bytes.asFloatBuffer().put(parameters);
        HadoopFiles.writeBytes(new Path(root, "checkpoint.bin"), bytes.array(), hadoop);
    }

    public static Checkpoint readCheckpoint(Path root, Configuration hadoop) {
        Path file = new Path(root, "checkpoint.bin");
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(HadoopFiles.readBytes(file, hadoop));
        if (bytes.remaining() < 12 || bytes.getInt() != CHECKPOINT_MAGIC) {
            throw new BadInputException(file + ": not a fedspark checkpoint");
        }
        int round = bytes.getInt();
        int length = bytes.getInt();
        if (bytes.remaining() != 4L * length) {
            throw new BadInputException(file + ": truncated checkpoint (" + bytes.remaining() + " bytes for " + length + " parameters)");
        }
        float[] parameters = new float[length];
        bytes.asFloatBuffer().get(parameters);
        return new Checkpoint(round, parameters);
    }

    public Path root() {
        return root;
    }

    public void writeConfig(String resolvedConfig) {
        HadoopFiles.writeString(new Path(root, "config.conf"), resolvedConfig, hadoop);
    }

    public void addMetrics(RoundMetrics row) {
        rows.add(row);
        StringBuilder csv = new StringBuilder(RoundMetrics.CSV_HEADER).append('\n');
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

    public void writeMetricsParquet(SparkSession spark) {
        StructType schema = new StructType()
                .add("round", DataTypes.IntegerType, false)
                .add("clients", DataTypes.IntegerType, false)
                .add("samples", DataTypes.LongType, false)
                .add("train_loss", DataTypes.DoubleType, false)
                .add("test_loss", DataTypes.DoubleType, false)
                .add("test_accuracy", DataTypes.DoubleType, false)
                .add("seconds", DataTypes.DoubleType, false);
        List<Row> table = rows.stream().map(r -> RowFactory.create(r.round(), r.clients(), r.samples(), r.trainLoss(),
                r.testLoss(), r.testAccuracy(), r.seconds())).toList();
        spark.createDataFrame(table, schema).coalesce(1)
                .write().mode(SaveMode.ErrorIfExists).parquet(new Path(root, "metrics").toString());
    }

    public void writeModel(ModelSpec model, float[] parameters) {
        MultiLayerNetwork net = model.newNetwork(0);
        FlatParameters.set(net, parameters);
        Path file = new Path(root, "model.zip");
        try (OutputStream out = file.getFileSystem(hadoop).create(file, false)) {
            ModelSerializer.writeModel(net, out, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
