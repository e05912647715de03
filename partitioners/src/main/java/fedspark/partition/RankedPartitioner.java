package fedspark.partition;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.monotonically_increasing_id;
import static org.apache.spark.sql.functions.xxhash64;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import fedspark.data.CanonicalTable;

/**
 * A scheme that sorts the examples (by its own columns, then by a seeded hash that shuffles ties)
 * and gives each rank a client. The sort is Spark's distributed sort; ranks come from
 * {@code zipWithIndex}, so nothing but counts reaches the driver.
 */
abstract class RankedPartitioner implements Partitioner {

    private static final String KEY = "_shuffle_key";
    private static final String ROW_ID = "_row_id";

    protected final int clients;
    protected final long seed;

    RankedPartitioner(int clients, long seed) {
        if (clients < 1) {
            throw new IllegalArgumentException("partition.clients must be at least 1, got " + clients);
        }
        this.clients = clients;
        this.seed = seed;
    }

    @Override
    public int clients() {
        return clients;
    }

    /** Columns to sort by before the seeded shuffle key (none for a pure shuffle). */
    protected abstract List<Column> sortPrefix();

    /** The client of the example at {@code rank} (0-based) among {@code n} sorted examples. */
    protected abstract int clientOfRank(long rank, long n);

    /** Called once with the number of examples, before any rank is assigned; checks the settings fit. */
    protected void checkFits(long n) {
        if (n < clients) {
            throw new IllegalArgumentException("cannot split " + n + " examples into " + clients + " non-empty clients");
        }
    }

    @Override
    public Dataset<Row> assign(Dataset<Row> table) {
        long n = table.count();
        checkFits(n);
        List<Column> order = new ArrayList<>(sortPrefix());
        order.add(col(KEY));
        order.add(col(ROW_ID));
        Dataset<Row> sorted = table
                .withColumn(ROW_ID, monotonically_increasing_id())
                .withColumn(KEY, xxhash64(lit(seed), col(ROW_ID)))
                .orderBy(order.toArray(new Column[0]))
                .select(col(CanonicalTable.LABEL), col(CanonicalTable.FEATURES));
        JavaRDD<Row> withClient = sorted.javaRDD().zipWithIndex()
                .map(pair -> RowFactory.create(pair._1().get(0), pair._1().get(1), clientOfRank(pair._2(), n)));
        StructType schema = sorted.schema().add(CanonicalTable.CLIENT, DataTypes.IntegerType, false);
        return table.sparkSession().createDataFrame(withClient, schema);
    }
}
