package fedspark.data;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.exists;
import static org.apache.spark.sql.functions.isnan;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.monotonically_increasing_id;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StringType;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Any table Spark reads (a path in a {@code table-format}: parquet, orc, json, csv with a header; or a catalog table)
 * or a DataFrame as the canonical table: the features one array or ML Vector column or numeric columns (all but the label and id
 * columns when none are named), the label an integer column or a string column indexed in sorted order (the order
 * recorded as {@code _labels.json}), the id column, when named, the natural id. A null or non-finite feature, a null
 * label, a missing column or a column of the wrong type is named before anything is written.
 */
public final class TableSource {

    public static final String LABELS_FILE = "_labels.json";

    /** Where the label and features are. */
    public record Columns(String label, String id, List<String> features) {
    }

    private TableSource() {
    }

    /** A table by path ({@code format} parquet, orc, json, csv) or, with format "catalog", by name. */
    public static Dataset<Row> load(SparkSession spark, String table, String format) {
        if (format.equals("catalog")) {
            return spark.table(table);
        }
        if (!List.of("parquet", "orc", "json", "csv").contains(format)) {
            throw new BadInputException("data.source.table-format must be parquet, orc, json, csv or catalog, got '" + format + "'");
        }
        if (!HadoopFiles.exists(new Path(table), spark.sparkContext().hadoopConfiguration())) {
            throw new BadInputException("missing table: " + table);
        }
        return format.equals("csv") ? spark.read().option("header", "true").option("inferSchema", "true").csv(table)
                : spark.read().format(format).load(table);
    }

    /** Writes {@code out/train}, {@code out/test} (and the label order when labels are strings) from two tables. */
    public static void prepare(Dataset<Row> train, Dataset<Row> test, Columns columns, List<Integer> shape, Path out, String source) {
        List<String> labels = labelOrder(train, columns, source + " train");
        TableWriter.writeSplits(canonical(train, columns, labels, source + " train"), canonical(test, columns, labels, source + " test"), out,
                source, shape, 0);
        if (labels != null) {
            try {
                HadoopFiles.writeString(new Path(out, LABELS_FILE), new ObjectMapper().writeValueAsString(labels) + "\n",
                        train.sparkSession().sparkContext().hadoopConfiguration());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** String labels' order (sorted), or null when the labels are integers. */
    private static List<String> labelOrder(Dataset<Row> table, Columns columns, String what) {
        DataType type = column(table, columns.label(), what);
        if (!(type instanceof StringType)) {
            return null;
        }
        List<String> labels = new ArrayList<>();
        for (Row row : table.select(col(quoted(columns.label()))).distinct().orderBy(quoted(columns.label())).collectAsList()) {
            if (!row.isNullAt(0)) {
                labels.add(row.getString(0));
            }
        }
        return labels;
    }

    /** {@code table} as label int, features array<float> (and user string), checked. */
    public static Dataset<Row> canonical(Dataset<Row> table, Columns columns, List<String> labels, String what) {
        DataType labelType = column(table, columns.label(), what);
        Column label;
        if (labels != null) {
            if (!(labelType instanceof StringType)) {
                throw new BadInputException(what + ": label column '" + columns.label() + "' is " + labelType.simpleString() + ", the training set's strings");
            }
            // array_position is 1-based and 0 for a label not in the list: null then, so the check below names it
            Column position = org.apache.spark.sql.functions.array_position(lit(labels.toArray(new String[0])), col(quoted(columns.label())));
            label = org.apache.spark.sql.functions.when(position.gt(0), position.minus(1));
        } else if (labelType instanceof org.apache.spark.sql.types.IntegralType) {
            label = col(quoted(columns.label()));
        } else {
            throw new BadInputException(what + ": label column '" + columns.label() + "' is " + labelType.simpleString()
                    + "; labels are integers or strings");
        }
        List<String> names = new ArrayList<>(columns.features());
        if (names.isEmpty()) {
            for (String c : table.columns()) {
                if (!c.equals(columns.label()) && !c.equals(columns.id())) {
                    names.add(c);
                }
            }
        }
        Column features;
        if (names.size() == 1 && column(table, names.get(0), what) instanceof VectorUDT) {
            features = org.apache.spark.ml.functions.vector_to_array(col(quoted(names.get(0))), "float32");
        } else if (names.size() == 1 && column(table, names.get(0), what) instanceof ArrayType array) {
            if (!(array.elementType() instanceof NumericType)) {
                throw new BadInputException(what + ": feature column '" + names.get(0) + "' holds " + array.simpleString() + ", not numbers");
            }
            features = col(quoted(names.get(0))).cast(DataTypes.createArrayType(DataTypes.FloatType));
        } else {
            List<Column> values = new ArrayList<>();
            for (String name : names) {
                DataType type = column(table, name, what);
                if (!(type instanceof NumericType)) {
                    throw new BadInputException(what + ": feature column '" + name + "' is " + type.simpleString() + ", not a number");
                }
                values.add(col(quoted(name)).cast(DataTypes.FloatType));
            }
            features = array(values.toArray(new Column[0]));
        }
        List<Column> selected = new ArrayList<>(List.of(label.cast(DataTypes.IntegerType).as(CanonicalTable.LABEL), features.as(CanonicalTable.FEATURES)));
        if (!columns.id().isEmpty()) {
            column(table, columns.id(), what);
            selected.add(col(quoted(columns.id())).cast(DataTypes.StringType).as(CanonicalTable.USER));
        }
        Dataset<Row> out = table.select(selected.toArray(new Column[0]));
        Column bad = col(CanonicalTable.LABEL).isNull().or(col(CanonicalTable.FEATURES).isNull())
                .or(exists(col(CanonicalTable.FEATURES), x -> x.isNull().or(isnan(x)).or(x.equalTo(lit(Float.POSITIVE_INFINITY)))
                        .or(x.equalTo(lit(Float.NEGATIVE_INFINITY)))));
        List<Row> first = out.withColumn("_row", monotonically_increasing_id()).filter(bad).limit(1).collectAsList();
        if (!first.isEmpty()) {
            Row row = first.get(0);
            throw new BadInputException(what + ": a row has " + (row.isNullAt(0) ? (labels != null ? "a label the training set does not have or a null label"
                    : "a null label") : "null or non-finite features") + ": " + row.mkString(", "));
        }
        return out;
    }

    private static DataType column(Dataset<Row> table, String name, String what) {
        for (org.apache.spark.sql.types.StructField field : table.schema().fields()) {
            if (field.name().equals(name)) {
                return field.dataType();
            }
        }
        throw new BadInputException(what + ": no column '" + name + "' (columns: " + String.join(", ", table.columns()) + ")");
    }

    private static String quoted(String name) {
        return "`" + name + "`";
    }
}
