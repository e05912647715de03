package fedspark.partition.stats;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.Histogram;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Pictures of a partitioning (XChart, PNG): a clients x labels heatmap of label shares, clients sorted by
 * their dominant label and binned to at most {@link #MAX_ROWS} rows so 10,000 clients stay readable,
 * and a histogram of client sizes.
 */
public final class PartitionPlots {

    public static final String HEATMAP = "_label_heatmap.png";
    public static final String SIZES = "_client_sizes.png";
    static final int MAX_ROWS = 200;

    private PartitionPlots() {
    }

    /** Rows of the heatmap: label shares of clients sorted by dominant label, averaged over bins of clients. */
    static double[][] heatmapRows(PartitionStatistics stats) {
        int clients = stats.clients();
        int classes = stats.classes();
        double[][] shares = new double[clients][];
        for (int k = 0; k < clients; k++) {
            shares[k] = stats.distribution(k);
        }
        Integer[] order = IntStream.range(0, clients).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingInt(k -> dominant(shares[k]))
                .thenComparingDouble(k -> -shares[k][dominant(shares[k])])
                .thenComparingInt(k -> k));
        int rows = Math.min(MAX_ROWS, clients);
        double[][] binned = new double[rows][classes];
        for (int r = 0; r < rows; r++) {
            int from = (int) ((long) r * clients / rows);
            int to = (int) ((long) (r + 1) * clients / rows);
            for (int i = from; i < to; i++) {
                for (int c = 0; c < classes; c++) {
                    binned[r][c] += shares[order[i]][c] / (to - from);
                }
            }
        }
        return binned;
    }

    private static int dominant(double[] p) {
        int best = 0;
        for (int c = 1; c < p.length; c++) {
            if (p[c] > p[best]) {
                best = c;
            }
        }
        return best;
    }

    public static void writeHeatmap(PartitionStatistics stats, String title, Path png, Configuration hadoop) {
        double[][] rows = heatmapRows(stats);
        int classes = stats.classes();
        HeatMapChart chart = new HeatMapChartBuilder().width(700).height(900).title(title)
                .xAxisTitle("label").yAxisTitle(rows.length < stats.clients()
                        ? "clients, sorted by dominant label (" + rows.length + " bins of ~" + (stats.clients() / rows.length) + ")"
                        : "clients, sorted by dominant label")
                .build();
        chart.getStyler().setShowValue(false);
        chart.getStyler().setMin(0);
        chart.getStyler().setMax(1);
        chart.getStyler().setRangeColors(new java.awt.Color[] {
                new java.awt.Color(255, 255, 255), new java.awt.Color(66, 133, 244), new java.awt.Color(13, 42, 110)});
        chart.getStyler().setPlotContentSize(1.0);
        chart.getStyler().setYAxisTicksVisible(rows.length <= 50); // row numbers would overlap; the title says how rows are made
        List<Integer> x = IntStream.range(0, classes).boxed().toList();
        List<Integer> y = IntStream.range(0, rows.length).boxed().toList();
        List<Number[]> cells = new ArrayList<>(rows.length * classes);
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < classes; c++) {
                cells.add(new Number[] {c, r, rows[r][c]});
            }
        }
        chart.addSeries("label share", x, y, cells);
        writePng(chart, png, hadoop);
    }

    public static void writeSizeHistogram(PartitionStatistics stats, String title, Path png, Configuration hadoop) {
        List<Long> sizes = new ArrayList<>();
        for (int k = 0; k < stats.clients(); k++) {
            sizes.add(stats.size(k));
        }
        long max = sizes.stream().mapToLong(Long::longValue).max().orElse(0);
        int bins = (int) Math.max(1, Math.min(20, max + 1));
        Histogram histogram = new Histogram(sizes, bins, 0, max + 1);
        CategoryChart chart = new CategoryChartBuilder().width(800).height(450).title(title)
                .xAxisTitle("examples per client (bin centre)").yAxisTitle("clients").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisDecimalPattern("#");
        chart.getStyler().setXAxisLabelRotation(45);
        chart.getStyler().setAvailableSpaceFill(0.95);
        chart.addSeries("clients", histogram.getxAxisData(), histogram.getyAxisData());
        writePng(chart, png, hadoop);
    }

    /** Renders an XChart chart as PNG at {@code png} on any Hadoop file system (headless). */
    public static void writePng(Chart<?, ?> chart, Path png, Configuration hadoop) {
        System.setProperty("java.awt.headless", "true");
        try (OutputStream out = png.getFileSystem(hadoop).create(png, true)) {
            out.write(BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }
}
