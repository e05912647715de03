package fedspark.partition;

import java.util.List;

import org.apache.spark.sql.Column;

/** IID: a seeded shuffle cut into K clients whose sizes differ by at most one. */
public final class IidPartitioner extends RankedPartitioner {

    public IidPartitioner(int clients, long seed) {
        super(clients, seed);
    }

    @Override
    public String id() {
        return "iid-k" + clients + "-seed" + seed;
    }

    @Override
    protected List<Column> sortPrefix() {
        return List.of();
    }

    @Override
    protected int clientOfRank(long rank, long n) {
        return (int) (rank * clients / n);
    }
}
