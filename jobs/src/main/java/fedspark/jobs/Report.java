package fedspark.jobs;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.engine.RoundMetrics;
import fedspark.engine.RunFolder;
import fedspark.engine.evaluation.ClientScore;
import fedspark.engine.evaluation.Fairness;
import fedspark.partition.stats.PartitionPlots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fedspark report RUN_OR_SWEEP_DIR}: one self-contained HTML page (inline SVG and CSS, pictures embedded, no
 * script, no network) of a run folder or a folder of run folders: the runs' figures, accuracy and loss against
 * rounds (and against simulated time where the runs have it), the distribution of per-client accuracy on the clients'
 * own test sets (where they have them), the partition's pictures, privacy spent, the audit totals and the resolved
 * configuration. Every run folder also gets its accuracy curve as {@code accuracy.png}.
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Write report.html (self-contained) for a run folder or a folder of run folders, and accuracy.png in each run.")
final class Report implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "RUN_OR_SWEEP_DIR", description = "a run folder, or a folder of run folders (a sweep)")
    String dir;

    @Option(names = "--out", paramLabel = "FILE", description = "where to write the page (default: RUN_OR_SWEEP_DIR/report.html)")
    String out;

    @Override
    public Integer call() {
        Configuration hadoop = new Configuration();
        Path root = new Path(dir);
        List<Path> runs = runsIn(root, hadoop);
        Path target = out != null ? new Path(out) : new Path(root, "report.html");
        HadoopFiles.writeString(target, page(root, runs, hadoop), hadoop);
        for (Path run : runs) {
            writeAccuracyPng(run, RunFolder.readMetricsCsv(run, hadoop), hadoop);
        }
        FedSpark.say("report: " + target);
        return 0;
    }

    /** A run folder's accuracy curve, accuracy.png beside its metrics. */
    static void writeAccuracyPng(Path run, List<RoundMetrics> rows, Configuration hadoop) {
        if (!rows.isEmpty()) {
            HadoopFiles.writeBytes(new Path(run, "accuracy.png"), Charts.accuracyPng(List.of(new Charts.Series(run.getName(), rows)), "round"), hadoop);
        }
    }

    /** {@code root} when it is a run folder, else the run folders in it (by name). */
    static List<Path> runsIn(Path root, Configuration hadoop) {
        if (HadoopFiles.exists(new Path(root, "metrics.csv"), hadoop)) {
            return List.of(root);
        }
        List<Path> runs = new ArrayList<>();
        try {
            if (HadoopFiles.exists(root, hadoop)) {
                for (FileStatus status : root.getFileSystem(hadoop).listStatus(root)) {
                    if (status.isDirectory() && HadoopFiles.exists(new Path(status.getPath(), "metrics.csv"), hadoop)) {
                        runs.add(status.getPath());
                    }
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        if (runs.isEmpty()) {
            throw new BadInputException("no run in " + root + " (no metrics.csv in it or in its folders)");
        }
        runs.sort((a, b) -> a.getName().compareTo(b.getName()));
        return runs;
    }

    static String page(Path root, List<Path> runs, Configuration hadoop) {
        List<Charts.Series> series = new ArrayList<>();
        for (Path run : runs) {
            series.add(new Charts.Series(run.getName(), RunFolder.readMetricsCsv(run, hadoop)));
        }
        StringBuilder html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.append("<title>fedspark report: ").append(Html.escape(root.getName())).append("</title><style>")
                .append("body{font-family:sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;margin:8px 0}")
                .append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}")
                .append("pre{background:#f8f8f8;padding:8px;overflow:auto;font-size:12px}img{max-width:100%}</style></head><body>");
        html.append("<h1>fedspark report: ").append(Html.escape(root.getName())).append("</h1>");
        html.append("<p>").append(runs.size()).append(runs.size() == 1 ? " run" : " runs").append(" in ").append(Html.escape(root.toString()))
                .append("</p>");
        summary(html, series);
        roundsToTarget(html, root, hadoop);
        html.append("<h2>Curves</h2>");
        html.append(Charts.svg("test accuracy", series, "round", RoundMetrics::testAccuracy));
        html.append(Charts.svg("test loss", series, "round", RoundMetrics::testLoss));
        if (series.stream().anyMatch(s -> !s.rows().isEmpty() && s.rows().get(0).extra().containsKey("simulated_time"))) {
            html.append(Charts.svg("test accuracy against simulated time", series, "simulated_time", RoundMetrics::testAccuracy));
        }
        clientAccuracy(html, runs, hadoop);
        for (Path run : runs) {
            html.append("<h2>").append(Html.escape(run.getName())).append("</h2>");
            partitionPictures(html, run, hadoop);
            audit(html, run, hadoop);
            Path config = new Path(run, "config.conf");
            if (HadoopFiles.exists(config, hadoop)) {
                html.append("<h3>Resolved configuration</h3><pre>").append(Html.escape(HadoopFiles.readString(config, hadoop))).append("</pre>");
            }
        }
        return html.append("</body></html>\n").toString();
    }

    /**
     * A sweep's results table (results.csv, which `fedspark sweep` writes beside its points): rounds to the target
     * accuracy, the speedup against the reference point and the compute spent, a row per point.
     */
    static void roundsToTarget(StringBuilder html, Path root, Configuration hadoop) {
        Path csv = new Path(root, "results.csv");
        if (!HadoopFiles.exists(csv, hadoop)) {
            return;
        }
        List<String> lines = HadoopFiles.readString(csv, hadoop).lines().filter(l -> !l.isBlank()).toList();
        if (lines.isEmpty()) {
            return;
        }
        html.append("<h2>Rounds to target</h2>");
        Path md = new Path(root, "results.md");
        if (HadoopFiles.exists(md, hadoop)) {
            String first = HadoopFiles.readString(md, hadoop).lines().findFirst().orElse("");
            if (first.startsWith("Target")) {
                html.append("<p>").append(Html.escape(first)).append("</p>");
            }
        }
        List<String> header = List.of(lines.get(0).split(",", -1));
        html.append("<table><tr>");
        header.forEach(h -> html.append("<th>").append(Html.escape(h.replace('_', ' '))).append("</th>"));
        html.append("</tr>");
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            html.append("<tr>");
            for (int i = 0; i < cells.length; i++) {
                String column = i < header.size() ? header.get(i) : "";
                String cell = !cells[i].isEmpty() ? cells[i] : column.equals("speedup") ? "n/a" : "not reached";
                html.append("<td>").append(Html.escape(cell)).append("</td>");
            }
            html.append("</tr>");
        }
        html.append("</table>");
    }

    /** Each run's distribution of per-client accuracy at its last client evaluation (global and personalized models). */
    private static void clientAccuracy(StringBuilder html, List<Path> runs, Configuration hadoop) {
        html.append("<h2>Per-client accuracy</h2>");
        boolean any = false;
        for (Path run : runs) {
            List<ClientScore> scores = RunFolder.readLastClientScores(run, hadoop);
            if (scores.isEmpty()) {
                continue;
            }
            any = true;
            Map<String, double[]> values = new java.util.LinkedHashMap<>();
            values.put("global model", scores.stream().mapToDouble(ClientScore::accuracy).toArray());
            boolean personalized = scores.stream().anyMatch(c -> c.personalAccuracy() != c.accuracy() || c.personalLoss() != c.loss());
            if (personalized) {
                values.put("personalized", scores.stream().mapToDouble(ClientScore::personalAccuracy).toArray());
            }
            html.append("<h3>").append(Html.escape(run.getName())).append(String.format(Locale.ROOT, ": round %d, %d clients</h3>",
                    scores.get(0).round(), scores.size()));
            html.append("<table><tr><th>model</th><th>mean</th><th>worst 10%</th><th>best 10%</th><th>std</th></tr>");
            Map<String, Double> fairness = Fairness.columns(scores);
            for (String prefix : personalized ? List.of("client_accuracy", "personal_accuracy") : List.of("client_accuracy")) {
                html.append("<tr><td>").append(prefix.startsWith("client") ? "global model" : "personalized").append("</td>");
                for (String stat : List.of("_mean", "_worst10", "_best10", "_std")) {
                    html.append(String.format(Locale.ROOT, "<td>%.4f</td>", fairness.get(prefix + stat)));
                }
                html.append("</tr>");
            }
            html.append("</table>").append(Charts.histogramSvg("per-client accuracy, " + run.getName(), values, 20));
        }
        if (!any) {
            html.append("<p>Not measured: the clients of these runs keep no local test sets (partition.local-test-fraction).</p>");
        }
    }

    /** One row per run: rounds, final and best accuracy, final loss, and the last values of privacy, bytes and simulated time. */
    private static void summary(StringBuilder html, List<Charts.Series> series) {
        List<String> optional = List.of("epsilon", "epsilon_est", "epsilon_est_all", "noise_multiplier", "clip", "upload_bytes", "simulated_time",
                "malicious");
        List<String> present = optional.stream().filter(c -> series.stream()
                .anyMatch(s -> !s.rows().isEmpty() && s.rows().get(s.rows().size() - 1).extra().containsKey(c))).toList();
        html.append("<table><tr><th>run</th><th>rounds</th><th>final test accuracy</th><th>best (round)</th><th>final test loss</th>");
        present.forEach(c -> html.append("<th>").append(Html.escape(c.replace('_', ' '))).append(" (last round)</th>"));
        html.append("</tr>");
        for (Charts.Series s : series) {
            html.append("<tr><td>").append(Html.escape(s.name())).append("</td>");
            if (s.rows().isEmpty()) {
                html.append("<td colspan=\"4\">no round finished</td></tr>");
                continue;
            }
            RoundMetrics last = s.rows().get(s.rows().size() - 1);
            RoundMetrics best = s.rows().stream().max((a, b) -> Double.compare(a.testAccuracy(), b.testAccuracy())).orElseThrow();
            html.append(String.format(Locale.ROOT, "<td>%d</td><td>%.2f%%</td><td>%.2f%% (%d)</td><td>%.4f</td>", last.round(),
                    100 * last.testAccuracy(), 100 * best.testAccuracy(), best.round(), last.testLoss()));
            for (String c : present) {
                Double v = last.extra().get(c);
                html.append("<td>").append(v == null ? "" : String.format(Locale.ROOT, "%.4g", v)).append("</td>");
            }
            html.append("</tr>");
        }
        html.append("</table>");
    }

    /** The partition's heatmap and client sizes, from the data the run's configuration names (when they are there). */
    private static void partitionPictures(StringBuilder html, Path run, Configuration hadoop) {
        Path partitioned;
        try {
            partitioned = Experiment.savedIn(run, hadoop).partitionedData();
        } catch (RuntimeException e) {
            return; // no readable configuration: no pictures
        }
        for (String picture : List.of(PartitionPlots.HEATMAP, PartitionPlots.SIZES)) {
            Path png = new Path(partitioned, picture);
            if (HadoopFiles.exists(png, hadoop)) {
                html.append("<img alt=\"").append(Html.escape(picture.substring(1).replace(".png", "").replace('_', ' ')))
                        .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(HadoopFiles.readBytes(png, hadoop)))
                        .append("\"/>");
            }
        }
    }

    /** audit.conf's totals as a table. */
    private static void audit(StringBuilder html, Path run, Configuration hadoop) {
        Path file = new Path(run, "audit.conf");
        if (!HadoopFiles.exists(file, hadoop)) {
            return;
        }
        Config totals = ConfigFactory.parseString(HadoopFiles.readString(file, hadoop));
        html.append("<h3>Privacy audit</h3><table><tr><th>total</th><th>value</th></tr>");
        for (Map.Entry<String, ConfigValue> entry : new java.util.TreeMap<>(totals.entrySet().stream()
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))).entrySet()) {
            html.append("<tr><td>").append(Html.escape(entry.getKey())).append("</td><td>")
                    .append(Html.escape(String.valueOf(entry.getValue().unwrapped()))).append("</td></tr>");
        }
        html.append("</table>");
    }
}
