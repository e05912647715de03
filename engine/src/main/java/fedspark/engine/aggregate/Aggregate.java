package fedspark.engine.aggregate;

import java.io.Serializable;
import java.util.List;

import fedspark.engine.ServedClient;
import fedspark.engine.strategy.ClientResult;

/**
 * How a round combines its clients' results: the treeAggregate's zero value is a fresh aggregate, {@link #add}
 * its seqOp and {@link #merge} its combOp (Spark MLlib's aggregator idiom). A strategy chooses its kind;
 * {@link WeightedSum} is the default. Whatever it keeps of single clients stays O(model) per partial sum unless the
 * kind says otherwise (a robust aggregator collecting m updates).
 */
public interface Aggregate<A extends Aggregate<A>> extends Serializable {

    /** A fresh, empty aggregate of the same kind (each task's partial starts from one). */
    A fresh();

    /** Folds in one client's result. */
    A add(ClientResult result);

    /** Joins another partial aggregate into this one. */
    A merge(A other);

    /** Every client counted, empty ones included, with the executor and task attempt that computed it. */
    List<ServedClient> served();

    /** Clients with examples that were added. */
    int clients();

    /** The total of their example counts. */
    long examples();

    /** Mean training loss over every local step of every client. */
    double meanLoss();

    /** The bytes the clients sent, as encoded (4 per float unless the logic layer encodes them otherwise). */
    long bytes();
}
