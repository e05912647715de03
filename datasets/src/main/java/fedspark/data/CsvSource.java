package fedspark.data;

import static org.apache.spark.sql.functions.abs;
import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.isnan;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;

/**
 * CSV with a header: a label column, an optional id column (kept as the natural id), and every other
 * column a numeric feature, divided by {@code scale} (255 for pixel values). A value that is not a
 * number is an error naming its column and row.
 */
public final class CsvSource {

    private CsvSource() {
    }

    public static void prepare(SparkSession spark, String train, String test, String labelColumn, String idColumn, double scale,
                               org.apache.hadoop.fs.Path out) {
        TableWriter.writeSplits(read(spark, train, labelColumn, idColumn, scale), read(spark, test, labelColumn, idColumn, scale),
                out, "CSV " + train);
    }

    public static Dataset<Row> read(SparkSession spark, String file, String labelColumn, String idColumn, double scale) {
        if (!HadoopFiles.exists(new org.apache.hadoop.fs.Path(file), spark.sparkContext().hadoopConfiguration())) {
            throw new BadInputException("missing file: " + file);
        }
        if (!(scale > 0)) {
            throw new BadInputException("data.source.scale must be positive, got " + scale);
        }
        Dataset<Row> raw = spark.read().option("header", "true").option("mode", "FAILFAST").csv(file);
        List<String> columns = Arrays.asList(raw.columns());
        if (!columns.contains(labelColumn)) {
            throw new BadInputException(file + ": no label column '" + labelColumn + "' (columns: " + String.join(", ", columns) + ")");
        }
        boolean hasId = !idColumn.isEmpty();
        if (hasId && !columns.contains(idColumn)) {
            throw new BadInputException(file + ": no id column '" + idColumn + "' (columns: " + String.join(", ", columns) + ")");
        }
        List<String> featureColumns = new ArrayList<>(columns);
        featureColumns.remove(labelColumn);
        featureColumns.remove(idColumn);
        if (featureColumns.isEmpty()) {
            throw new BadInputException(file + ": no feature columns besides '" + labelColumn + "'");
        }
        Column[] features = featureColumns.stream()
                .map(c -> col("`" + c + "`").cast(DataTypes.FloatType).divide(lit(scale)).cast(DataTypes.FloatType)).toArray(Column[]::new);
        List<Column> selected = new ArrayList<>(List.of(col("`" + labelColumn + "`").cast(DataTypes.IntegerType).as(CanonicalTable.LABEL),
                array(features).as(CanonicalTable.FEATURES)));
        if (hasId) {
            selected.add(col("`" + idColumn + "`").cast(DataTypes.StringType).as(CanonicalTable.USER));
        }
        Dataset<Row> table = raw.select(selected.toArray(new Column[0]));
        // try_cast makes a value that does not parse null, ANSI mode or not (Spark 4's default, where cast throws): one
        // pass finds the first such row, the driver names the column.
        List<String> checked = new ArrayList<>(featureColumns);
        checked.add(labelColumn);
        Column anyBad = lit(false);
        for (String c : checked) {
            Column value = col("`" + c + "`");
            Column parsed = expr("try_cast(`" + c + "` AS " + (c.equals(labelColumn) ? "INT" : "FLOAT") + ")");
            anyBad = anyBad.or(value.isNull()).or(parsed.isNull());
            if (!c.equals(labelColumn)) {
                anyBad = anyBad.or(isnan(parsed)).or(abs(parsed).equalTo(lit(Float.POSITIVE_INFINITY))); // "NaN", "Infinity", 1e39
            }
        }
        List<Row> bad = raw.filter(anyBad).limit(1).collectAsList();
        if (!bad.isEmpty()) {
            Row row = bad.get(0);
            for (String c : checked) {
                String value = row.getString(row.fieldIndex(c));
                boolean parses;
                try {
                    if (c.equals(labelColumn)) {
                        Integer.parseInt(value.trim());
                        parses = true;
                    } else {
                        parses = Float.isFinite(Float.parseFloat(value.trim()));
                    }
                } catch (RuntimeException e) {
                    parses = false;
                }
                if (!parses) {
                    throw new BadInputException(file + ": column '" + c + "' has a value that is not "
                            + (c.equals(labelColumn) ? "an integer" : "a finite number") + ": '" + value + "'");
                }
            }
        }
        return table;
    }
}
