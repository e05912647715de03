package fedspark.partition;

import static org.apache.spark.sql.functions.col;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;

import fedspark.data.BadInputException;
import fedspark.data.CanonicalTable;

/**
 * Natural clients: one client per value of an id column (a writer, a user), or, with K > 0, the ids
 * shuffled by the seed and grouped into K clients of as equal a number of ids as possible. Only the
 * distinct ids reach the driver.
 */
public final class NaturalIdPartitioner implements Partitioner {

    private final String column;
    private final int groups;
    private final long seed;
    private int clients = -1; // known once the ids are counted

    /** {@code groups = 0}: one client per id. */
    public NaturalIdPartitioner(String column, int groups, long seed) {
        if (groups < 0) {
            throw new IllegalArgumentException("partition.clients must be >= 0 for natural ids (0: one client per id), got " + groups);
        }
        this.column = column;
        this.groups = groups;
        this.seed = seed;
    }

    @Override
    public int clients() {
        if (clients < 0) {
            throw new IllegalStateException("the number of clients is known after assign()");
        }
        return clients;
    }

    @Override
    public String id() {
        return "natural-" + column + (groups > 0 ? "-k" + groups + "-seed" + seed : "");
    }

    @Override
    public Dataset<Row> assign(Dataset<Row> table) {
        if (!List.of(table.columns()).contains(column)) {
            throw new BadInputException("partition.column '" + column + "' is not a column of the data (columns: "
                    + String.join(", ", table.columns()) + ")");
        }
        List<String> ids = new ArrayList<>();
        for (Row r : table.select(col(column).cast(DataTypes.StringType)).distinct().orderBy(column).collectAsList()) {
            if (r.isNullAt(0)) {
                throw new BadInputException("column '" + column + "' has rows without an id");
            }
            ids.add(r.getString(0));
        }
        if (groups > ids.size()) {
            throw new IllegalArgumentException("cannot group " + ids.size() + " ids into " + groups + " non-empty clients");
        }
        Map<String, Integer> clientOf = new HashMap<>();
        if (groups == 0) {
            for (int i = 0; i < ids.size(); i++) {
                clientOf.put(ids.get(i), i);
            }
            clients = ids.size();
        } else {
            SplittableRandom random = new SplittableRandom(seed);
            for (int i = ids.size() - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                String t = ids.get(i);
                ids.set(i, ids.get(j));
                ids.set(j, t);
            }
            for (int i = 0; i < ids.size(); i++) {
                clientOf.put(ids.get(i), (int) ((long) i * groups / ids.size()));
            }
            clients = groups;
        }
        Broadcast<Map<String, Integer>> shared = JavaSparkContext.fromSparkContext(table.sparkSession().sparkContext()).broadcast(clientOf);
        UDF1<String, Integer> lookup = id -> shared.value().get(id);
        return table.withColumn(CanonicalTable.CLIENT,
                functions.udf(lookup, DataTypes.IntegerType).asNondeterministic().apply(col(column).cast(DataTypes.StringType)));
    }
}
