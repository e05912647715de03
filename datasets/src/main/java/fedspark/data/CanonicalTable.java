package fedspark.data;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The table every source becomes: {@code label int, features array<float>} with features in [0, 1].
 * Partitioning adds {@code client int}.
 */
public final class CanonicalTable {

    public static final String LABEL = "label";
    public static final String FEATURES = "features";
    public static final String CLIENT = "client";
    /** The natural id of a source that has one (LEAF's user, a CSV id column), for natural-id partitioning. */
    public static final String USER = "user";

    public static final StructType SCHEMA = new StructType()
            .add(LABEL, DataTypes.IntegerType, false)
            .add(FEATURES, DataTypes.createArrayType(DataTypes.FloatType, false), false);

    /** The canonical table with the natural id column. */
    public static final StructType SCHEMA_WITH_USER = SCHEMA.add(USER, DataTypes.StringType, false);

    private CanonicalTable() {
    }
}
