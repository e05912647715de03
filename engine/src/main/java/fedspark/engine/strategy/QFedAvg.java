package fedspark.engine.strategy;

import java.util.Map;
import java.util.SplittableRandom;

import fedspark.data.ClientShard;
import fedspark.engine.Seeds;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.local.LocalTrainer;

/**
 * q-FedAvg (Li, Sanjabi, Beirami and Smith, ICLR 2020, "Fair Resource Allocation in Federated Learning", Algorithm 2),
 * which solves q-FFL, min_w sum_k p_k F_k(w)^(q+1) / (q + 1): with L = 1 / lr, client k computes F_k, the global model
 * w's loss on its training data, trains E epochs from w to w_k as FedAvg's clients do, and sends
 * Delta_k = F_k^q L (w - w_k) and h_k = q F_k^(q-1) L^2 ||w - w_k||^2 + L F_k^q; the server steps
 * w -= sum_k Delta_k / sum_k h_k. With q = 0 the step is the uniform average of the sampled clients' models.
 * As q-FFL's code (litian96/fair_flearn, qffedavg.py) does, F_k is the loss plus 1e-10, and clients are drawn with
 * probability proportional to n_k without replacement ({@code sampling = weighted}, its {@code sampling = 2}; numpy's
 * sequential draw) or uniformly ({@code sampling = uniform}).
 * <p>Settings: {@code train.qfedavg.q}, {@code train.qfedavg.sampling}. Clients send Delta_k with weight 1 and h_k as the
 * named scalar {@code h} with weight 1, so the fixed-point sums are the plain sums Algorithm 2 takes.
 */
public final class QFedAvg extends FedAvg {

    static final String H = "h";
    /** What q-FFL's code adds to every F_k before taking its powers. */
    static final double EPSILON = 1e-10;

    private final double q;
    private final boolean weighted;
    private double lastH = Double.NaN;

    public QFedAvg(StrategyContext context) {
        super(context);
        q = context.options().getDouble("q");
        if (!(q >= 0)) {
            throw new IllegalArgumentException("train.qfedavg.q must be >= 0, got " + q);
        }
        String sampling = context.options().hasPath("sampling") ? context.options().getString("sampling") : "weighted";
        if (!sampling.equals("weighted") && !sampling.equals("uniform")) {
            throw new IllegalArgumentException("train.qfedavg.sampling is weighted or uniform, got '" + sampling + "'");
        }
        weighted = sampling.equals("weighted");
        if (simulation() != null || (context.train().hasPath("stragglers.fraction") && context.train().getDouble("stragglers.fraction") != 0)) {
            throw new IllegalArgumentException("qfedavg samples its clients itself: it takes neither train.simulation nor train.stragglers");
        }
        if (weighted && java.util.Arrays.stream(context.clientSizes()).sum() == 0) {
            throw new IllegalArgumentException("train.qfedavg.sampling = weighted needs the clients' sizes");
        }
    }

    @Override
    public int[] sample(int round, int clients) {
        if (!weighted) {
            return super.sample(round, clients);
        }
        return weightedSample(context.clientSizes(), settings().sampledClients(clients), settings().seed(), round);
    }

    /** m of the clients, each draw with probability proportional to n_k among those not drawn yet; sorted ids. */
    static int[] weightedSample(long[] sizes, int m, long seed, int round) {
        SplittableRandom random = new SplittableRandom(Seeds.mix(seed, Seeds.SAMPLING, round));
        boolean[] taken = new boolean[sizes.length];
        double remaining = 0;
        int positive = 0;
        for (long n : sizes) {
            remaining += n;
            positive += n > 0 ? 1 : 0;
        }
        if (m > positive) {
            throw new IllegalArgumentException("cannot draw " + m + " clients in proportion to their sizes: " + positive + " have examples");
        }
        int[] chosen = new int[m];
        for (int i = 0; i < m; i++) {
            double target = random.nextDouble() * remaining;
            int pick = -1;
            double cumulative = 0;
            for (int k = 0; k < sizes.length; k++) {
                if (taken[k] || sizes[k] == 0) {
                    continue;
                }
                pick = k;
                cumulative += sizes[k];
                if (target < cumulative) {
                    break;
                }
            }
            taken[pick] = true;
            remaining -= sizes[pick];
            chosen[i] = pick;
        }
        java.util.Arrays.sort(chosen);
        return chosen;
    }

    /** The mean cross-entropy of {@code parameters} over the whole shard (the evaluation's loss: -log max(p_y, 1e-12)). */
    static double loss(LocalSgd local, ClientShard shard, float[] parameters) {
        LocalTrainer network = local.model().threadTrainer(local.localStep());
        network.setParameters(parameters);
        int n = shard.size();
        int[] identity = new int[n];
        for (int i = 0; i < n; i++) {
            identity[i] = i;
        }
        int classes = local.model().classes();
        double sum = 0;
        for (int from = 0; from < n; from += 500) {
            int to = Math.min(n, from + 500);
            float[] p = network.probabilities(shard, identity, from, to);
            for (int i = from; i < to; i++) {
                sum += -Math.log(Math.max(p[(i - from) * classes + shard.labels()[i]], 1e-12));
            }
        }
        return sum / n;
    }

    @Override
    protected LocalTraining localTraining() {
        double power = q;
        double lipschitz = 1 / settings().learningRate();
        return (shard, input, state, local, rule) -> {
            float[] w = input.global();
            double f = loss(local, shard, w) + EPSILON;
            LocalSgd.Trained trained = local.train(shard, w, rule, input.round());
            float[] wk = trained.parameters();
            double fq = Math.pow(f, power);
            float[] delta = new float[w.length];
            double norm2 = 0;
            for (int j = 0; j < w.length; j++) {
                double g = lipschitz * ((double) w[j] - wk[j]); // q-FFL's "grads": (w - w_k) / lr
                norm2 += g * g;
                delta[j] = (float) (fq * g);
            }
            double h = power * Math.pow(f, power - 1) * norm2 + lipschitz * fq;
            return new ClientResult(shard.client(), shard.size(), 1.0, delta, Map.of(), trained.lossSum(), trained.lossCount())
                    .with(H, 1.0, (float) h);
        };
    }

    @Override
    public float[] serverStep(int round, float[] global, WeightedSum aggregate) {
        if (aggregate.clients() == 0) {
            throw new IllegalStateException("round " + round + ": no sampled client with examples delivered its update");
        }
        double[] deltas = aggregate.vectors().sum();
        double h = aggregate.named(H).sum()[0];
        lastH = h;
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = (float) (global[j] - deltas[j] / h);
        }
        return next;
    }

    @Override
    protected boolean sendsModel() {
        return false; // Delta_k, an update already
    }

    @Override
    protected boolean sendsOnlyModel() {
        return false; // and h_k
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> columns = super.metrics();
        columns.put("qffl_h", lastH);
        return columns;
    }
}
