package fedspark.jobs;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import fedspark.data.BadInputException;
import fedspark.engine.RoundMetrics;
import fedspark.engine.RunFolder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The Markdown table of runs. Each folder given is a run folder (one row, named after it), a folder of run folders
 * (a sweep's or runs/: one row per run folder in it), or a folder of reproduced runs (results/...): one metrics CSV
 * per row, named {@code <row>.csv} (a run's metrics.csv, copied), and optionally {@code published.csv} (a header
 * {@code row,...} naming the published figures to print beside each row). Several folders make one table, each row of
 * a folder of runs named {@code <folder> / <row>}; their published.csv headers must agree. The docs' tables are this
 * command's output.
 */
@Command(name = "results", mixinStandardHelpOptions = true,
        description = "Print the Markdown table of runs (run folders, sweep folders, results folders of metrics CSVs): final and best test "
                + "accuracy of each run, beside published figures.")
final class ResultsTable implements Callable<Integer> {

    static final String PUBLISHED = "published.csv";

    @Parameters(arity = "1..*", paramLabel = "DIR", description = "run folders, folders of run folders (a sweep), or results folders: "
            + "<row>.csv metrics files and an optional published.csv")
    List<File> dirs;

    @picocli.CommandLine.Option(names = "--last", split = ",", paramLabel = "COLUMN",
            description = "metrics columns to show at the last round, e.g. --last epsilon,noise_multiplier")
    List<String> last = new ArrayList<>();

    @picocli.CommandLine.Option(names = "--mean", split = ",", paramLabel = "COLUMN",
            description = "metrics columns to show as their mean over rounds, e.g. --mean upload_bytes")
    List<String> mean = new ArrayList<>();

    @picocli.CommandLine.Option(names = "--reach", paramLabel = "ACCURACY",
            description = "add the first value of the --x column at which test accuracy reaches ACCURACY, e.g. --reach 0.8")
    Double reach;

    @picocli.CommandLine.Option(names = "--x", defaultValue = "round", paramLabel = "COLUMN",
            description = "the x axis of --plot and --reach: round (default) or a metrics column such as simulated_time")
    String x;

    @picocli.CommandLine.Option(names = "--plot", paramLabel = "PNG", description = "also draw test accuracy against --x, one line per run")
    File plot;

    @picocli.CommandLine.Option(names = "--pivot",
            description = "one row per run name and one column per folder, each cell the run's final test accuracy")
    boolean pivot;

    @Override
    public Integer call() throws IOException {
        System.out.print(pivot ? pivot(dirs) : table(dirs, last, mean, reach, x));
        if (plot != null) {
            plot(dirs, x, plot);
        }
        return 0;
    }

    /** Final test accuracy of each run name (rows) in each folder (columns); a run a folder lacks is an empty cell. */
    static String pivot(List<File> dirs) throws IOException {
        Map<String, Map<String, String>> cells = new java.util.TreeMap<>();
        StringBuilder table = new StringBuilder("| run |");
        for (File dir : dirs) {
            table.append(' ').append(dir.getName()).append(" |");
            for (Map.Entry<String, File> run : metricsFiles(dir).entrySet()) {
                File file = run.getValue();
                List<RoundMetrics> metrics = RunFolder.parseMetricsCsv(Files.readString(file.toPath()), file.toString());
                if (metrics.isEmpty()) {
                    throw new BadInputException(file + ": no rounds");
                }
                String row = run.getKey();
                cells.computeIfAbsent(row, r -> new LinkedHashMap<>()).put(dir.getName(),
                        String.format(Locale.ROOT, "%.2f%%", 100 * metrics.get(metrics.size() - 1).testAccuracy()));
            }
        }
        table.append("\n|---|");
        dirs.forEach(dir -> table.append("---|"));
        table.append('\n');
        cells.forEach((row, byFolder) -> {
            table.append("| ").append(row).append(" |");
            dirs.forEach(dir -> table.append(' ').append(byFolder.getOrDefault(dir.getName(), "")).append(" |"));
            table.append('\n');
        });
        return table.toString();
    }

    /** The value of column {@code x} ("round" or a metrics column) in a row. */
    private static double x(RoundMetrics row, String x) {
        if (x.equals("round")) {
            return row.round();
        }
        Double value = row.extra().get(x);
        if (value == null) {
            throw new BadInputException("a metrics file has no column '" + x + "'");
        }
        return value;
    }

    /** Test accuracy against {@code x} for every run of the folders, as a PNG. */
    static void plot(List<File> dirs, String x, File png) throws IOException {
        List<Charts.Series> series = new ArrayList<>();
        for (File dir : dirs) {
            for (Map.Entry<String, File> run : metricsFiles(dir).entrySet()) {
                File file = run.getValue();
                List<RoundMetrics> metrics = RunFolder.parseMetricsCsv(Files.readString(file.toPath()), file.toString());
                metrics.forEach(m -> x(m, x)); // a missing column is named
                String name = (dirs.size() == 1 || isRun(dir) ? "" : dir.getName() + " / ") + run.getKey();
                series.add(new Charts.Series(name, metrics));
            }
        }
        Files.write(png.toPath(), Charts.accuracyPng(series, x));
    }

    /**
     * The runs of {@code dir} by row name: a run folder's metrics.csv (named after the folder), else the metrics.csv of
     * each run folder in it (a sweep, runs/), else its {@code <row>.csv} files.
     */
    static Map<String, File> metricsFiles(File dir) {
        Map<String, File> runs = new LinkedHashMap<>();
        if (new File(dir, RUN_METRICS).isFile()) {
            runs.put(dir.getName(), new File(dir, RUN_METRICS));
            return runs;
        }
        File[] folders = dir.listFiles(f -> f.isDirectory() && new File(f, RUN_METRICS).isFile());
        if (folders != null && folders.length > 0) {
            Arrays.sort(folders);
            for (File folder : folders) {
                runs.put(folder.getName(), new File(folder, RUN_METRICS));
            }
            return runs;
        }
        File[] files = dir.listFiles((d, name) -> name.endsWith(".csv") && !name.equals(PUBLISHED));
        if (files == null || files.length == 0) {
            throw new BadInputException("no run in " + dir + ": no metrics.csv in it or in its folders, and no metrics CSV files");
        }
        Arrays.sort(files);
        for (File file : files) {
            runs.put(file.getName().substring(0, file.getName().length() - 4), file);
        }
        return runs;
    }

    /** A run folder's metrics. */
    static final String RUN_METRICS = "metrics.csv";

    /** True when {@code dir} is one run folder: its row needs no folder prefix. */
    private static boolean isRun(File dir) {
        return new File(dir, RUN_METRICS).isFile();
    }

    static String table(File dir) throws IOException {
        return table(List.of(dir));
    }

    static String table(List<File> dirs) throws IOException {
        return table(dirs, List.of(), List.of());
    }

    static String table(List<File> dirs, List<String> lastColumns, List<String> meanColumns) throws IOException {
        return table(dirs, lastColumns, meanColumns, null, "round");
    }

    static String table(List<File> dirs, List<String> lastColumns, List<String> meanColumns, Double reach, String x) throws IOException {
        StringBuilder body = new StringBuilder();
        List<String> columns = null;
        for (File dir : dirs) {
            Rows rows = rows(dir, dirs.size() == 1 || isRun(dir) ? "" : dir.getName() + " / ", lastColumns, meanColumns, reach, x);
            if (columns != null && !columns.equals(rows.publishedColumns())) {
                throw new BadInputException(dir + ": published.csv columns " + rows.publishedColumns() + " differ from " + columns);
            }
            columns = rows.publishedColumns();
            body.append(rows.markdown());
        }
        StringBuilder table = new StringBuilder("| run | rounds | final test accuracy | best test accuracy (round) |");
        lastColumns.forEach(column -> table.append(' ').append(column).append(" (last round) |"));
        meanColumns.forEach(column -> table.append(' ').append(column).append(" (mean per round) |"));
        if (reach != null) {
            table.append(String.format(Locale.ROOT, " %s to reach %.0f%% |", x.replace('_', ' '), 100 * reach));
        }
        columns.forEach(column -> table.append(' ').append(column).append(" |"));
        table.append("\n|---|---|---|---|");
        for (int i = 0; i < lastColumns.size() + meanColumns.size() + (reach == null ? 0 : 1) + columns.size(); i++) {
            table.append("---|");
        }
        table.append('\n');
        return table.append(body).toString();
    }

    private record Rows(List<String> publishedColumns, String markdown) {
    }

    private static Rows rows(File dir, String prefix, List<String> lastColumns, List<String> meanColumns, Double reach, String x)
            throws IOException {
        Map<String, File> files = metricsFiles(dir);
        Map<String, List<String>> published = new LinkedHashMap<>();
        List<String> publishedColumns = List.of();
        File publishedFile = new File(dir, PUBLISHED);
        if (publishedFile.isFile()) {
            List<String> lines = Files.readAllLines(publishedFile.toPath());
            publishedColumns = List.of(lines.get(0).split(",", -1)).subList(1, lines.get(0).split(",", -1).length);
            for (String line : lines.subList(1, lines.size())) {
                List<String> fields = List.of(line.split(",", -1));
                if (fields.size() != publishedColumns.size() + 1) {
                    throw new BadInputException(publishedFile + ": '" + line + "' has " + fields.size() + " fields, the header "
                            + (publishedColumns.size() + 1));
                }
                published.put(fields.get(0), fields.subList(1, fields.size()));
            }
        }
        StringBuilder table = new StringBuilder();
        for (Map.Entry<String, File> run : files.entrySet()) {
            File file = run.getValue();
            String row = run.getKey();
            List<RoundMetrics> metrics = RunFolder.parseMetricsCsv(Files.readString(file.toPath()), file.toString());
            if (metrics.isEmpty()) {
                throw new BadInputException(file + ": no rounds");
            }
            RoundMetrics last = metrics.get(metrics.size() - 1);
            RoundMetrics best = metrics.stream().max((a, b) -> Double.compare(a.testAccuracy(), b.testAccuracy())).orElseThrow();
            table.append(String.format(Locale.ROOT, "| %s%s | %d | %.2f%% | %.2f%% (%d) |", prefix, row, last.round(), 100 * last.testAccuracy(),
                    100 * best.testAccuracy(), best.round()));
            for (String column : lastColumns) {
                // train_loss and test_loss are the metrics' own columns (FedProx's Figure 1 table reads train_loss)
                Double lastValue = column.equals("train_loss") ? (Double) last.trainLoss()
                        : column.equals("test_loss") ? (Double) last.testLoss() : last.extra().get(column);
                table.append(' ').append(value(lastValue)).append(" |");
            }
            for (String column : meanColumns) {
                table.append(' ').append(value(metrics.stream().mapToDouble(m -> m.extra().getOrDefault(column, Double.NaN)).average().orElse(Double.NaN)))
                        .append(" |");
            }
            if (reach != null) {
                String reached = metrics.stream().filter(m -> m.testAccuracy() >= reach).findFirst()
                        .map(m -> value(x(m, x))).orElse("not reached");
                table.append(' ').append(reached).append(" |");
            }
            for (String value : published.getOrDefault(row, new ArrayList<>(java.util.Collections.nCopies(publishedColumns.size(), "")))) {
                table.append(' ').append(value).append(" |");
            }
            table.append('\n');
        }
        return new Rows(publishedColumns, table.toString());
    }

    /** A metric as the table prints it: a whole number as one (rounds), else 4 significant digits; empty when the run has no such column. */
    private static String value(Double v) {
        if (v == null || v.isNaN()) {
            return "";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e5) {
            return Long.toString(v.longValue());
        }
        return Math.abs(v) >= 1e5 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.4g", v);
    }
}
