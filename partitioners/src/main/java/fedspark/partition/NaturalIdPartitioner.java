package fedspark.partition;

import static org.apache.spark.sql.functions.col;

import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.xxhash64;

import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import fedspark.data.BadInputException;
import fedspark.data.CanonicalTable;

/**
 * Natural clients: one client per value of an id column (a writer, a user), in id order, or, with K > 0, the ids
 * in the order of a hash seeded by the seed, grouped into K clients of as equal a number of ids as possible. The ids
 * never reach the driver, only their count.
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
        Column id = col(column).cast(DataTypes.StringType);
        if (!table.filter(id.isNull()).isEmpty()) {
            throw new BadInputException("column '" + column + "' has rows without an id");
        }
        // The ids are ranked by Spark's distributed sort (by id, or by a hash seeded with the seed when grouping) and
        // joined back: only their count reaches the driver, so a million ids cost what a sort of them costs.
        Dataset<Row> ids = table.select(id.as(ID)).distinct();
        long count = ids.count();
        if (groups > count) {
            throw new IllegalArgumentException("cannot group " + count + " ids into " + groups + " non-empty clients");
        }
        Dataset<Row> ordered = groups == 0 ? ids.orderBy(ID) : ids.orderBy(xxhash64(lit(seed), col(ID)), col(ID));
        JavaRDD<Row> ranked = ordered.javaRDD().zipWithIndex().map(pair -> RowFactory.create(pair._1().getString(0),
                (int) (groups == 0 ? pair._2() : pair._2() * groups / count)));
        Dataset<Row> clientOf = table.sparkSession().createDataFrame(ranked, new StructType()
                .add(ID, DataTypes.StringType, false).add(CanonicalTable.CLIENT, DataTypes.IntegerType, false));
        clients = groups == 0 ? Math.toIntExact(count) : groups;
        return table.join(clientOf, id.equalTo(clientOf.col(ID))).drop(ID);
    }

    private static final String ID = "_natural_id";
}
