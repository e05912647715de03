package fedspark.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.engine.RoundMetrics;
import fedspark.engine.RunFolder;
import fedspark.partition.stats.PartitionPlots;

/**
 * A grid of runs from one configuration: {@code sweep.axes} maps setting keys to lists of values (axes in
 * the order of their names); every point of their product is one run, in one Spark application, in its own folder under {@code sweep.dir}.
 * A point whose folder already holds a finished run is read back, not run again. The results table has,
 * per point: final and best test accuracy, the first round reaching {@code sweep.target}, the speedup
 * against the {@code sweep.reference} point (rounds to target), and the compute spent as the thesis counts
 * it: forward and backward passes over examples (one each per example per local epoch), to the target and
 * in all, also as passes over the training set.
 */
public final class Sweep {

    /** One point of the grid: its settings (key to value, in axis order) and a folder name made of them. */
    public record Point(Map<String, Object> settings, String name) {
    }

    /** A point's outcome: one row of the results table. */
    public record Result(Point point, int rounds, double finalAccuracy, double bestAccuracy, Integer roundsToTarget,
                         Double speedup, long passesToTarget, long passes, double dataPassesToTarget, double dataPasses,
                         boolean skipped) {
    }

    private final Experiment base;
    private final Config sweep;

    public Sweep(Experiment base) {
        this.base = base;
        if (!base.config().hasPath("sweep.axes")) {
            throw new BadInputException("a sweep needs sweep.axes: setting keys mapped to lists of values");
        }
        this.sweep = base.config().getConfig("sweep");
        double stopAt = base.config().getDouble("train.stop-at-accuracy");
        if (stopAt > 0 && stopAt < sweep.getDouble("target")) {
            throw new BadInputException("train.stop-at-accuracy = " + stopAt + " is below sweep.target = " + sweep.getDouble("target")
                    + ": the points would stop before reaching the target");
        }
    }

    /** The grid's points, first axis slowest. */
    public List<Point> points() {
        Map<String, List<Object>> axes = new LinkedHashMap<>();
        // HOCON keeps no key order: axes go in the order of their names, so points and folders are stable.
        for (Map.Entry<String, ConfigValue> axis : new java.util.TreeMap<>(sweep.getObject("axes")).entrySet()) {
            Object values = axis.getValue().unwrapped();
            if (!(values instanceof List<?> list) || list.isEmpty()) {
                throw new BadInputException("sweep.axes.\"" + axis.getKey() + "\" must be a non-empty list of values");
            }
            if (!base.config().hasPath(axis.getKey())) {
                throw new BadInputException("sweep.axes names '" + axis.getKey() + "', which is not a setting");
            }
            axes.put(axis.getKey(), new ArrayList<>(list));
        }
        List<Point> points = new ArrayList<>();
        points.add(new Point(new LinkedHashMap<>(), ""));
        for (Map.Entry<String, List<Object>> axis : axes.entrySet()) {
            List<Point> grown = new ArrayList<>();
            for (Point p : points) {
                for (Object value : axis.getValue()) {
                    Map<String, Object> settings = new LinkedHashMap<>(p.settings());
                    settings.put(axis.getKey(), value);
                    String part = shortKey(axis.getKey()) + "=" + value;
                    grown.add(new Point(settings, p.name().isEmpty() ? part : p.name() + "_" + part));
                }
            }
            points = grown;
        }
        return points;
    }

    private static String shortKey(String key) {
        return key.substring(key.lastIndexOf('.') + 1);
    }

    /** Runs (or reads back) every point, writes the results table and the plots, returns the rows. */
    public List<Result> run(SparkSession spark, Consumer<String> log) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path dir = new Path(sweep.getString("dir"));
        double target = sweep.getDouble("target");
        List<Point> points = points();
        Map<Point, List<RoundMetrics>> metrics = new LinkedHashMap<>();
        Map<Point, Boolean> skipped = new LinkedHashMap<>();
        Map<Point, Long> examples = new LinkedHashMap<>();
        for (Point point : points) {
            Experiment experiment = experimentOf(point);
            Path runDir = new Path(dir, point.name());
            List<RoundMetrics> finished = finishedRun(runDir, experiment.config(), hadoop);
            if (finished != null) {
                log.accept("sweep: " + point.name() + " finished before, skipped");
                metrics.put(point, finished);
                skipped.put(point, true);
            } else if (checkpointOf(runDir, experiment, hadoop)) {
                log.accept("sweep: " + point.name() + " goes on from its checkpoint");
                List<String> rounds = List.of("train.rounds=" + experiment.config().getInt("train.rounds"));
                metrics.put(point, Experiment.resume(spark, runDir, rounds, log).folder().metrics());
                skipped.put(point, false);
            } else {
                removeUnfinished(runDir, hadoop, log);
                log.accept("sweep: " + point.name());
                metrics.put(point, experiment.train(spark, runDir, log).folder().metrics());
                skipped.put(point, false);
            }
            examples.put(point, experiment.partition(spark, line -> { }).dataset().examples());
        }
        List<Result> results = results(points, metrics, skipped, examples, target);
        write(spark, results, dir, target);
        plotAccuracy(metrics, new Path(dir, "accuracy.png"), hadoop);
        List<String> axes = axes();
        if (axes.size() == 1 && results.stream().allMatch(r -> r.point().settings().get(axes.get(0)) instanceof Number)) {
            plotAgainstAxis(results, axes.get(0), new Path(dir, "accuracy-vs-" + shortKey(axes.get(0)) + ".png"), hadoop);
        }
        log.accept("sweep: results in " + dir + "/results.{csv,md} and results/ (Parquet), curves in accuracy.png");
        return results;
    }

    /** The experiment of one point: the base configuration with the point's settings, named after it. */
    public Experiment experimentOf(Point point) {
        Experiment experiment = base;
        for (Map.Entry<String, Object> s : point.settings().entrySet()) {
            experiment = experiment.set(s.getKey(), s.getValue());
        }
        return experiment.set("name", point.name());
    }

    /**
     * The metrics of a finished run in {@code runDir} (the model written after all rounds, or after the round that
     * reached train.stop-at-accuracy), or null.
     */
    static List<RoundMetrics> finishedRun(Path runDir, Config point, Configuration hadoop) {
        if (!HadoopFiles.exists(new Path(runDir, "model.zip"), hadoop)) {
            return null;
        }
        List<RoundMetrics> rows = RunFolder.readMetricsCsv(runDir, hadoop);
        return rows.size() == point.getInt("train.rounds") || Experiment.reachedStop(point, rows) ? rows : null;
    }

    /**
     * True when {@code runDir} holds a checkpoint of this point's run: its saved configuration is the point's but for
     * train.rounds (a sweep whose budget was raised goes on from where its points ended, as resume does).
     */
    private static boolean checkpointOf(Path runDir, Experiment point, Configuration hadoop) {
        if (!HadoopFiles.exists(new Path(runDir, "checkpoint.bin"), hadoop) || !HadoopFiles.exists(new Path(runDir, "config.conf"), hadoop)) {
            return false;
        }
        int rounds = point.config().getInt("train.rounds");
        Experiment saved = Experiment.savedIn(runDir, hadoop).withoutFaultInjection().set("train.rounds", rounds);
        return RunFolder.readCheckpoint(runDir, hadoop).round() <= rounds && saved.config().equals(point.withoutFaultInjection().config());
    }

    private static void removeUnfinished(Path runDir, Configuration hadoop, Consumer<String> log) {
        try {
            FileSystem fs = runDir.getFileSystem(hadoop);
            if (fs.exists(runDir)) {
                log.accept("sweep: " + runDir + " holds an unfinished run; running it again");
                fs.delete(runDir, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear " + runDir, e);
        }
    }

    List<Result> results(List<Point> points, Map<Point, List<RoundMetrics>> metrics, Map<Point, Boolean> skipped,
                         Map<Point, Long> examples, double target) {
        Integer referenceRounds = null;
        for (Point p : points) {
            if (isReference(p)) {
                referenceRounds = roundsToTarget(metrics.get(p), target);
            }
        }
        List<Result> rows = new ArrayList<>();
        for (Point p : points) {
            List<RoundMetrics> m = metrics.get(p);
            Integer toTarget = roundsToTarget(m, target);
            // One forward and one backward pass per example per local epoch (FedSGD: E = 1, one full batch).
            long epochs = Long.parseLong(String.valueOf(setting(p, "train.E")));
            long passes = 0;
            long passesToTarget = 0;
            double best = 0;
            for (RoundMetrics r : m) {
                passes += r.samples() * epochs;
                if (toTarget != null && r.round() <= toTarget) {
                    passesToTarget += r.samples() * epochs;
                }
                best = Math.max(best, r.testAccuracy());
            }
            Double speedup = referenceRounds == null || toTarget == null ? null : (double) referenceRounds / toTarget;
            long n = examples.get(p);
            rows.add(new Result(p, m.size(), m.get(m.size() - 1).testAccuracy(), best, toTarget, speedup,
                    passesToTarget, passes, toTarget == null ? Double.NaN : (double) passesToTarget / n, (double) passes / n, skipped.get(p)));
        }
        return rows;
    }

    /** The value of {@code key} at point p: the point's own, else the base configuration's. */
    private Object setting(Point p, String key) {
        return p.settings().containsKey(key) ? p.settings().get(key) : base.config().getValue(key).unwrapped();
    }

    /** True when p has every setting of {@code sweep.reference} (no reference: false). */
    private boolean isReference(Point p) {
        if (!sweep.hasPath("reference")) {
            return false;
        }
        for (Map.Entry<String, ConfigValue> r : sweep.getObject("reference").entrySet()) {
            if (!String.valueOf(setting(p, r.getKey())).equals(String.valueOf(r.getValue().unwrapped()))) {
                return false;
            }
        }
        return true;
    }

    static Integer roundsToTarget(List<RoundMetrics> metrics, double target) {
        for (RoundMetrics r : metrics) {
            if (r.testAccuracy() >= target) {
                return r.round();
            }
        }
        return null;
    }

    private List<String> axes() {
        return new ArrayList<>(new java.util.TreeSet<>(sweep.getObject("axes").keySet()));
    }

    private void write(SparkSession spark, List<Result> results, Path dir, double target) {
        List<String> axes = axes();
        StructType schema = new StructType().add("point", DataTypes.StringType, false);
        for (String axis : axes) {
            schema = schema.add(axis, DataTypes.StringType, false);
        }
        schema = schema.add("rounds", DataTypes.IntegerType, false)
                .add("final_accuracy", DataTypes.DoubleType, false)
                .add("best_accuracy", DataTypes.DoubleType, false)
                .add("rounds_to_target", DataTypes.IntegerType, true)
                .add("speedup", DataTypes.DoubleType, true)
                .add("forward_passes_to_target", DataTypes.LongType, true)
                .add("backward_passes_to_target", DataTypes.LongType, true)
                .add("data_passes_to_target", DataTypes.DoubleType, true)
                .add("forward_passes", DataTypes.LongType, false)
                .add("data_passes", DataTypes.DoubleType, false);
        List<Row> rows = new ArrayList<>();
        StringBuilder csv = new StringBuilder(String.join(",", schema.fieldNames())).append('\n');
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "Target test accuracy: %.4f%n%n", target));
        md.append("| ").append(String.join(" | ", schema.fieldNames())).append(" |\n|");
        md.append(" --- |".repeat(schema.fieldNames().length)).append('\n');
        for (Result r : results) {
            boolean reached = r.roundsToTarget() != null;
            List<Object> values = new ArrayList<>();
            values.add(r.point().name());
            for (String axis : axes) {
                values.add(String.valueOf(r.point().settings().get(axis)));
            }
            values.addAll(java.util.Arrays.asList(r.rounds(), r.finalAccuracy(), r.bestAccuracy(), r.roundsToTarget(), r.speedup(),
                    reached ? r.passesToTarget() : null, reached ? r.passesToTarget() : null, reached ? r.dataPassesToTarget() : null,
                    r.passes(), r.dataPasses()));
            rows.add(RowFactory.create(values.toArray()));
            List<String> text = values.stream().map(v -> v == null ? "" : v instanceof Double d ? String.format(Locale.ROOT, "%.4f", d)
                    : String.valueOf(v)).toList();
            csv.append(String.join(",", text)).append('\n');
            List<String> cells = new ArrayList<>();
            for (int i = 0; i < text.size(); i++) {
                boolean speedup = schema.fieldNames()[i].equals("speedup");
                cells.add(!text.get(i).isEmpty() ? text.get(i) : speedup ? "n/a" : "not reached");
            }
            md.append("| ").append(String.join(" | ", cells)).append(" |\n");
        }
        spark.createDataFrame(rows, schema).coalesce(1).write().mode(SaveMode.Overwrite).parquet(new Path(dir, "results").toString());
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        HadoopFiles.writeString(new Path(dir, "results.csv"), csv.toString(), hadoop);
        HadoopFiles.writeString(new Path(dir, "results.md"), md.toString(), hadoop);
    }

    /** Best and final accuracy against the one numeric axis (a partition study: accuracy against Dirichlet beta). */
    private static void plotAgainstAxis(List<Result> results, String axis, Path png, Configuration hadoop) {
        double[] x = results.stream().mapToDouble(r -> ((Number) r.point().settings().get(axis)).doubleValue()).toArray();
        double min = java.util.Arrays.stream(x).min().orElse(1);
        double max = java.util.Arrays.stream(x).max().orElse(1);
        XYChart chart = new XYChartBuilder().width(800).height(480).title("test accuracy against " + axis)
                .xAxisTitle(axis).yAxisTitle("test accuracy").build();
        chart.getStyler().setXAxisLogarithmic(min > 0 && max / min >= 10);
        chart.addSeries("best", x, results.stream().mapToDouble(Result::bestAccuracy).toArray());
        chart.addSeries("final", x, results.stream().mapToDouble(Result::finalAccuracy).toArray());
        PartitionPlots.writePng(chart, png, hadoop);
    }

    private static void plotAccuracy(Map<Point, List<RoundMetrics>> metrics, Path png, Configuration hadoop) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title("test accuracy per round")
                .xAxisTitle("round").yAxisTitle("test accuracy").build();
        for (Map.Entry<Point, List<RoundMetrics>> run : metrics.entrySet()) {
            double[] x = run.getValue().stream().mapToDouble(RoundMetrics::round).toArray();
            double[] y = run.getValue().stream().mapToDouble(RoundMetrics::testAccuracy).toArray();
            chart.addSeries(run.getKey().name(), x, y).setMarker(org.knowm.xchart.style.markers.SeriesMarkers.NONE);
        }
        PartitionPlots.writePng(chart, png, hadoop);
    }
}
