package fedspark.partition;

/** Quantity skew: client sizes drawn as Dir(beta) shares of n, labels IID (one shuffle cut by those sizes). */
public final class QuantityPartitioner extends RankedPartitioner {

    private final double beta;
    private final int minClientSize;
    private final int maxAttempts;

    public QuantityPartitioner(int clients, double beta, int minClientSize, int maxAttempts, long seed) {
        super(clients, seed);
        if (!(beta > 0)) {
            throw new IllegalArgumentException("partition.beta must be positive, got " + beta);
        }
        this.beta = beta;
        this.minClientSize = minClientSize;
        this.maxAttempts = maxAttempts;
    }

    @Override
    public String id() {
        return "quantity-k" + clients + "-b" + beta + "-min" + minClientSize + "-seed" + seed;
    }

    @Override
    protected boolean groupsByLabel() {
        return false;
    }

    @Override
    protected SegmentPlan plan(long[] labelCounts) {
        long n = total(labelCounts);
        if ((long) clients * minClientSize > n) {
            throw new IllegalArgumentException("cannot give " + clients + " clients at least " + minClientSize + " examples each from " + n);
        }
        Dirichlet dirichlet = new Dirichlet(seed);
        for (int attempt = 1; attempt <= maxAttempts; attempt++) {
            long[] sizes = SegmentPlan.split(n, dirichlet.symmetric(beta, clients));
            if (java.util.Arrays.stream(sizes).min().orElse(0) >= minClientSize) {
                return SegmentPlan.single(n, allClients(), sizes);
            }
        }
        throw new IllegalArgumentException("quantity Dir(" + beta + ") over " + clients + " clients: no draw in " + maxAttempts
                + " gave every client partition.min-client-size = " + minClientSize + " examples; raise beta or lower min-client-size");
    }
}
