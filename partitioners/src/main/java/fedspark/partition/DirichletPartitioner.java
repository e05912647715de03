package fedspark.partition;

/**
 * Label skew: for each label, the shares of the K clients are drawn from Dir(beta) and that label's
 * examples are cut by those shares (Hsu et al. 2019; NIID-Bench's Dir(beta)). Small beta: each client
 * holds few labels; large beta: close to IID.
 *
 * <p>With {@code quantityBeta > 0} it also skews quantity: client weights w ~ Dir(quantityBeta) and each
 * label's shares ~ Dir(beta * K * w), so client k expects a fraction w_k of the data with a skewed label mix.
 *
 * <p>With {@code balance}, labels are dealt in order and a client that already holds N/K examples gets no share
 * of the labels after (its share of each is set to zero and the others renormalised): what NIID-Bench's
 * partition_data does ("Balance"), which keeps client sizes closer together than plain Dir(beta).
 *
 * <p>Draws are repeated (up to {@code maxAttempts}) until every client holds at least {@code minClientSize}
 * examples; then a clear error.
 */
public final class DirichletPartitioner extends RankedPartitioner {

    private final double beta;
    private final double quantityBeta;
    private final int minClientSize;
    private final int maxAttempts;
    private final boolean balance;

    public DirichletPartitioner(int clients, double beta, double quantityBeta, int minClientSize, int maxAttempts, long seed) {
        this(clients, beta, quantityBeta, minClientSize, maxAttempts, false, seed);
    }

    public DirichletPartitioner(int clients, double beta, double quantityBeta, int minClientSize, int maxAttempts, boolean balance,
                                long seed) {
        super(clients, seed);
        if (!(beta > 0)) {
            throw new IllegalArgumentException("partition.beta must be positive, got " + beta);
        }
        if (quantityBeta < 0) {
            throw new IllegalArgumentException("partition.quantity-beta must be positive (or 0: no quantity skew), got " + quantityBeta);
        }
        if (minClientSize < 0 || maxAttempts < 1) {
            throw new IllegalArgumentException("partition.min-client-size must be >= 0 and partition.max-attempts >= 1");
        }
        this.beta = beta;
        this.quantityBeta = quantityBeta;
        this.minClientSize = minClientSize;
        this.maxAttempts = maxAttempts;
        this.balance = balance;
    }

    @Override
    public String id() {
        return (quantityBeta > 0 ? "dirichlet-quantity-k" + clients + "-b" + beta + "-q" + quantityBeta
                : "dirichlet-k" + clients + "-b" + beta) + (balance ? "-balanced" : "") + "-min" + minClientSize + "-seed" + seed;
    }

    @Override
    protected boolean groupsByLabel() {
        return true;
    }

    @Override
    protected SegmentPlan plan(long[] labelCounts) {
        long n = total(labelCounts);
        if ((long) clients * minClientSize > n) {
            throw new IllegalArgumentException("cannot give " + clients + " clients at least " + minClientSize
                    + " examples each from " + n + " examples");
        }
        Dirichlet dirichlet = new Dirichlet(seed);
        int classes = labelCounts.length;
        int smallest = -1;
        for (int attempt = 1; attempt <= maxAttempts; attempt++) {
            double[] concentration = new double[clients];
            java.util.Arrays.fill(concentration, beta);
            if (quantityBeta > 0) {
                double[] weights = dirichlet.symmetric(quantityBeta, clients);
                for (int k = 0; k < clients; k++) {
                    concentration[k] = Math.max(beta * clients * weights[k], Double.MIN_NORMAL);
                }
            }
            long[][] sizes = new long[classes][];
            long[] clientSizes = new long[clients];
            for (int c = 0; c < classes; c++) {
                double[] shares = dirichlet.sample(concentration);
                if (balance) {
                    double sum = 0;
                    for (int k = 0; k < clients; k++) {
                        shares[k] = clientSizes[k] < (double) n / clients ? shares[k] : 0;
                        sum += shares[k];
                    }
                    for (int k = 0; k < clients; k++) {
                        shares[k] /= sum; // some client is below N/K while examples are left to deal
                    }
                }
                sizes[c] = SegmentPlan.split(labelCounts[c], shares);
                for (int k = 0; k < clients; k++) {
                    clientSizes[k] += sizes[c][k];
                }
            }
            long min = java.util.Arrays.stream(clientSizes).min().orElse(0);
            if (min >= minClientSize) {
                int[][] owners = new int[classes][];
                long[][] ends = new long[classes][];
                for (int c = 0; c < classes; c++) {
                    owners[c] = allClients();
                    ends[c] = SegmentPlan.cumulative(sizes[c]);
                }
                return new SegmentPlan(labelCounts, owners, ends);
            }
            smallest = (int) min;
        }
        throw new IllegalArgumentException("Dir(" + beta + ") over " + clients + " clients: after " + maxAttempts
                + " draws a client still had only " + smallest + " examples, below partition.min-client-size = "
                + minClientSize + "; raise beta or max-attempts, or lower min-client-size");
    }
}
