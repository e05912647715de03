package fedspark.jobs;

import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import fedspark.engine.RoundMetrics;

/** Curves of runs' metrics: as PNG (XChart, for files) and as inline SVG (for the self-contained report page). */
final class Charts {

    /** One run's rows under a name. */
    record Series(String name, List<RoundMetrics> rows) {
    }

    private Charts() {
    }

    /** The value of column {@code x} ("round" or a metrics column, NaN where a row lacks it). */
    static double x(RoundMetrics row, String x) {
        return x.equals("round") ? row.round() : row.extra().getOrDefault(x, Double.NaN);
    }

    /** Test accuracy against {@code x}, one line per series, as PNG bytes. */
    static byte[] accuracyPng(List<Series> series, String x) {
        XYChart chart = new XYChartBuilder().width(800).height(500).title("test accuracy").xAxisTitle(x.replace('_', ' '))
                .yAxisTitle("test accuracy").build();
        chart.getStyler().setMarkerSize(0);
        for (Series s : series) {
            chart.addSeries(s.name(), s.rows().stream().mapToDouble(m -> x(m, x)).toArray(),
                    s.rows().stream().mapToDouble(RoundMetrics::testAccuracy).toArray());
        }
        try {
            return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final String[] COLOURS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

    /** {@code y} against {@code x} as an SVG line chart with axes, five ticks each and a legend. */
    static String svg(String title, List<Series> series, String x, ToDoubleFunction<RoundMetrics> y) {
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY, minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (RoundMetrics m : s.rows()) {
                double vx = x(m, x);
                double vy = y.applyAsDouble(m);
                if (Double.isFinite(vx) && Double.isFinite(vy)) {
                    minX = Math.min(minX, vx);
                    maxX = Math.max(maxX, vx);
                    minY = Math.min(minY, vy);
                    maxY = Math.max(maxY, vy);
                }
            }
        }
        if (!(maxX >= minX)) {
            return "";
        }
        if (maxX == minX) {
            maxX = minX + 1;
        }
        if (maxY == minY) {
            maxY = minY + 1e-3;
        }
        int width = 760, height = 320, left = 60, right = 300, top = 30, bottom = 40;
        double plotW = width - left - right, plotH = height - top - bottom;
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">", width, height, Html.escape(title)));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>", left, Html.escape(title)));
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>",
                left, top, plotW, plotH));
        for (int t = 0; t <= 4; t++) {
            double vx = minX + (maxX - minX) * t / 4;
            double vy = minY + (maxY - minY) * t / 4;
            double px = left + plotW * t / 4;
            double py = top + plotH - plotH * t / 4;
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
                    px, height - bottom + 15, tick(vx)));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>",
                    left - 5, py + 4, tick(vy)));
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", left, left + plotW, py, py));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                left + plotW / 2, height - 5, Html.escape(x.replace('_', ' '))));
        for (int i = 0; i < series.size(); i++) {
            String colour = COLOURS[i % COLOURS.length];
            StringBuilder points = new StringBuilder();
            for (RoundMetrics m : series.get(i).rows()) {
                double vx = x(m, x);
                double vy = y.applyAsDouble(m);
                if (Double.isFinite(vx) && Double.isFinite(vy)) {
                    points.append(String.format(Locale.ROOT, "%.1f,%.1f ", left + plotW * (vx - minX) / (maxX - minX),
                            top + plotH - plotH * (vy - minY) / (maxY - minY)));
                }
            }
            svg.append("<polyline fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"1.5\" points=\"").append(points).append("\"/>");
            svg.append(String.format(Locale.ROOT, "<text x=\"%.0f\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    left + plotW + 10, top + 12 + 16 * i, colour, Html.escape(series.get(i).name())));
        }
        return svg.append("</svg>").toString();
    }

    private static String tick(double v) {
        return Math.abs(v) >= 1000 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3g", v);
    }

    /** Histograms of values in [0, 1] (one per name, bars side by side in each of {@code bins} bins), as SVG. */
    static String histogramSvg(String title, java.util.Map<String, double[]> values, int bins) {
        int width = 760, height = 260, left = 60, right = 200, top = 30, bottom = 40;
        double plotW = width - left - right, plotH = height - top - bottom;
        int[][] counts = new int[values.size()][bins];
        int most = 1;
        int k = 0;
        for (double[] vs : values.values()) {
            for (double v : vs) {
                int bin = Math.min(bins - 1, Math.max(0, (int) Math.floor(v * bins)));
                most = Math.max(most, ++counts[k][bin]);
            }
            k++;
        }
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">", width, height, Html.escape(title)));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>", left, Html.escape(title)));
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>",
                left, top, plotW, plotH));
        double barW = plotW / bins / Math.max(1, values.size());
        for (int b = 0; b <= bins; b += Math.max(1, bins / 5)) {
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
                    left + plotW * b / bins, height - bottom + 15, tick((double) b / bins)));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%d</text>", left - 5, top + 10, most));
        svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">clients by accuracy on their own test data</text>",
                left + plotW / 2, height - 5));
        k = 0;
        for (String name : values.keySet()) {
            String colour = COLOURS[k % COLOURS.length];
            for (int b = 0; b < bins; b++) {
                double h = plotH * counts[k][b] / most;
                svg.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                        left + plotW * b / bins + barW * k, top + plotH - h, barW, h, colour));
            }
            svg.append(String.format(Locale.ROOT, "<text x=\"%.0f\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    left + plotW + 10, top + 12 + 16 * k, colour, Html.escape(name)));
            k++;
        }
        return svg.append("</svg>").toString();
    }
}
