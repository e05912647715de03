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

    public static final StructType SCHEMA = new StructType()
            .add(LABEL, DataTypes.IntegerType, false)
            .add(FEATURES, DataTypes.createArrayType(DataTypes.FloatType, false), false);

    private CanonicalTable() {
    }
}
