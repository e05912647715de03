package fedspark.partition;

/** IID: one seeded shuffle cut into K clients whose sizes differ by at most one. */
public class IidPartitioner extends RankedPartitioner {

    public IidPartitioner(int clients, long seed) {
        super(clients, seed);
    }

    @Override
    public String id() {
        return "iid-k" + clients + "-seed" + seed;
    }

    @Override
    protected boolean groupsByLabel() {
        return false;
    }

    @Override
    protected SegmentPlan plan(long[] labelCounts) {
        return evenSplit(labelCounts);
    }
}
