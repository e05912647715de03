package fedspark.partition;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.monotonically_increasing_id;
import static org.apache.spark.sql.functions.xxhash64;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import fedspark.data.BadInputException;
import fedspark.data.CanonicalTable;

/**
 * A scheme that ranks the examples (grouped by label or not, shuffled by a seeded hash within) and cuts
 * the ranks into per-client segments. Only the per-label counts reach the driver, which plans the
 * segments ({@link SegmentPlan}); the sort is Spark's distributed sort and ranks come from
 * {@code zipWithIndex}, so the examples never leave the executors.
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

    /** True to rank label by label (label 0's examples first), false for one shuffled ranking. */
    protected abstract boolean groupsByLabel();

    /** The segments, from {@code labelCounts[c]}, the number of examples of label c. Runs on the driver. */
    protected abstract SegmentPlan plan(long[] labelCounts);

    /** The features a client trains on; schemes that perturb features (feature skew) override this. */
    protected float[] features(float[] original, int client, long rank) {
        return original;
    }

    @Override
    public Dataset<Row> assign(Dataset<Row> table) {
        SegmentPlan plan = plan(labelCounts(table));
        List<Column> order = new ArrayList<>();
        if (groupsByLabel()) {
            order.add(col(CanonicalTable.LABEL));
        }
        order.add(col(KEY));
        order.add(col(ROW_ID));
        Dataset<Row> sorted = table
                .withColumn(ROW_ID, monotonically_increasing_id())
                .withColumn(KEY, xxhash64(lit(seed), col(ROW_ID)))
                .orderBy(order.toArray(new Column[0]))
                .select(col(CanonicalTable.LABEL), col(CanonicalTable.FEATURES));
        Broadcast<SegmentPlan> shared = JavaSparkContext.fromSparkContext(table.sparkSession().sparkContext()).broadcast(plan);
        JavaRDD<Row> withClient = sorted.javaRDD().zipWithIndex()
                .map(pair -> {
                    long rank = pair._2();
                    int client = shared.value().client(rank);
                    Row row = pair._1();
                    float[] original = toFloats(row.getList(1));
                    return client < 0 ? null : RowFactory.create(row.getInt(0), features(original, client, rank), client);
                })
                .filter(row -> row != null);
        StructType schema = sorted.schema().add(CanonicalTable.CLIENT, DataTypes.IntegerType, false);
        return table.sparkSession().createDataFrame(withClient, schema);
    }

    /** Examples per label, label 0 .. max; labels must be non-negative. */
    static long[] labelCounts(Dataset<Row> table) {
        List<Row> counts = table.groupBy(CanonicalTable.LABEL).count().collectAsList();
        int classes = 0;
        for (Row r : counts) {
            int label = r.getInt(0);
            if (label < 0) {
                throw new BadInputException("label " + label + " is negative; labels are class indices 0, 1, ...");
            }
            classes = Math.max(classes, label + 1);
        }
        long[] result = new long[classes];
        for (Row r : counts) {
            result[r.getInt(0)] = r.getLong(1);
        }
        return result;
    }

    static long total(long[] counts) {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    /** One shuffled ranking cut into K clients whose sizes differ by at most one. */
    SegmentPlan evenSplit(long[] labelCounts) {
        long n = total(labelCounts);
        if (n < clients) {
            throw new IllegalArgumentException("cannot split " + n + " examples into " + clients + " non-empty clients");
        }
        return SegmentPlan.single(n, allClients(), SegmentPlan.even(n, clients));
    }

    /** Client ids 0 .. K-1 in order. */
    int[] allClients() {
        int[] ids = new int[clients];
        for (int k = 0; k < clients; k++) {
            ids[k] = k;
        }
        return ids;
    }

    private static float[] toFloats(List<Float> values) {
        float[] result = new float[values.size()];
        for (int i = 0; i < result.length; i++) {
            result[i] = values.get(i);
        }
        return result;
    }
}
