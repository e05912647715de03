package fedspark.partition;

/** IID: one seeded shuffle cut into K clients whose sizes differ by at most one. */
public final class IidPartitioner extends RankedPartitioner {

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
        long n = total(labelCounts);
        if (n < clients) {
            throw new IllegalArgumentException("cannot split " + n + " examples into " + clients + " non-empty clients");
        }
        return SegmentPlan.single(n, allClients(), SegmentPlan.even(n, clients));
    }
}
