package fedspark.engine.privacy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import com.typesafe.config.Config;

import fedspark.engine.ClientSampler;
import fedspark.engine.Seeds;
import fedspark.engine.TrainSettings;
import fedspark.engine.aggregate.WeightedSum;
import fedspark.engine.logic.Clip;
import fedspark.engine.logic.Gaussian;
import fedspark.engine.logic.GaussianNoise;
import fedspark.engine.logic.UpdateTransform;

/**
 * User-level differential privacy for the strategies whose clients send their model (train.privacy), driver side.
 * <p>Central (DP-FedAvg, McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models"): clients
 * take part by Poisson sampling with probability q = C; each clips its update to norm S ({@link Clip}); client k
 * weighs min(n_k, cap) (weights capped, in units of the cap); the server divides the weighted sum by q W, W the total
 * weight of all K clients (the fixed-denominator estimator, whose sensitivity to one client is S cap / (q W)) and
 * adds Gaussian noise of std z S cap / (q W) once. The guarantee: user-level (epsilon, delta)-DP of the sequence of
 * global models under add/remove-one-client neighbouring, for Poisson sampling and the fixed denominator, from the
 * RDP ({@link RdpAccountant}) or PLD ({@link PldAccountant}) accountant of the Poisson-sampled Gaussian mechanism
 * composed over the rounds. Uniform (fixed-size) sampling and the ratio estimator (whose denominator, the sampled
 * weight, is released exactly) are refused under noise: no accountant here covers them.
 * <p>Adaptive clipping (Andrew et al. 2021, "Differentially Private Learning with Adaptive Clipping"): clients also
 * report +1/2 when their norm was within the clip and -1/2 when not ({@link Clip#belowClipReport}: sensitivity 1/2);
 * the server noises that sum with std sigma_b, estimates the fraction below the clip (clamped to [0, 1]) and moves
 * the clip geometrically towards the target quantile. The two releases are one Gaussian mechanism of multiplier
 * ((z_u)^-2 + (sigma_b / (1/2))^-2)^-1/2, so the update's multiplier is z_u = (z^-2 - (2 sigma_b)^-2)^-1/2 for the
 * pair to spend what z alone would.
 * <p>Local: each client clips its update and adds N(0, (z S)^2) itself ({@link GaussianNoise}); what is protected is
 * any two data sets of one client (replace-one: the clipped updates differ by up to 2S, so the mechanism is the
 * Gaussian one of multiplier z / 2), composed over the rounds the client takes part in (sampling does not amplify it:
 * the server sees who sends), at most local-max-rounds of them.
 */
public final class DifferentialPrivacy {

    public enum Mode { OFF, CENTRAL, LOCAL }

    private static final long NOISE = 4;

    private final Mode mode;
    private final double initialClip;
    private final boolean perLayer;
    private final double noiseMultiplier;
    private final double delta;
    private final double targetEpsilon;
    private final boolean stopAtTarget;
    private final boolean poisson;
    private final boolean fixedDenominator;
    private final double weightCap;
    private final boolean adaptive;
    private final double targetQuantile;
    private final double clipLearningRate;
    private final double countNoise;
    private final int localMaxRounds;
    private final long seed;
    private final double q;
    private final int clients;
    private final int expectedClients;
    private final double totalWeight;
    private final double weightUnit;
    private final boolean pld;
    private final CanaryAudit canaries; // null: no audit
    private double appliedNoiseScale = 1; // 1 but in a test that hides a mechanism weaker than the accountant assumes

    // Server state (checkpointed): the clip, and for local DP every client's rounds so far.
    private double clip;
    private int[] participations;
    private int roundsAccounted;
    private double lastEpsilon = Double.NaN;
    private double lastBelowClip = Double.NaN;

    /** No differential privacy (a run configured without a train.privacy block). */
    public static DifferentialPrivacy off(TrainSettings settings, int clients) {
        return new DifferentialPrivacy(com.typesafe.config.ConfigFactory.parseString("mode = off, clip = 1, per-layer-clip = false, "
                + "noise-multiplier = 0, delta = 1e-5, target-epsilon = 0, target-mode = size, sampling = uniform, estimator = ratio, "
                + "weight-cap = inf, adaptive-clip { enabled = false, target-quantile = 0.5, learning-rate = 1, count-noise = 1 }, "
                + "local-max-rounds = 1, accountant = rdp, audit.canaries = 0"), settings, new long[clients], 0);
    }

    /**
     * From the train.privacy block; {@code clientSizes} are the K clients' example counts, {@code parameters} the
     * model's size (for the canary audit).
     */
    public DifferentialPrivacy(Config privacy, TrainSettings settings, long[] clientSizes, int parameters) {
        String modeName = privacy.getString("mode");
        this.mode = switch (modeName) {
            case "off" -> Mode.OFF;
            case "central" -> Mode.CENTRAL;
            case "local" -> Mode.LOCAL;
            default -> throw new IllegalArgumentException("train.privacy.mode must be off, central or local, got '" + modeName + "'");
        };
        this.initialClip = privacy.getDouble("clip");
        this.perLayer = privacy.getBoolean("per-layer-clip");
        this.delta = privacy.getDouble("delta");
        this.targetEpsilon = privacy.getDouble("target-epsilon");
        String targetMode = privacy.getString("target-mode");
        require(targetMode.equals("size") || targetMode.equals("stop"), "train.privacy.target-mode must be size or stop, got '" + targetMode + "'");
        this.stopAtTarget = targetMode.equals("stop");
        String sampling = privacy.getString("sampling");
        require(sampling.equals("poisson") || sampling.equals("uniform"), "train.privacy.sampling must be poisson or uniform, got '" + sampling + "'");
        this.poisson = sampling.equals("poisson");
        String estimator = privacy.getString("estimator");
        require(estimator.equals("fixed") || estimator.equals("ratio"), "train.privacy.estimator must be fixed or ratio, got '" + estimator + "'");
        this.fixedDenominator = estimator.equals("fixed");
        String cap = privacy.getString("weight-cap").trim();
        this.weightCap = cap.equals("inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(cap);
        this.adaptive = privacy.getBoolean("adaptive-clip.enabled");
        this.targetQuantile = privacy.getDouble("adaptive-clip.target-quantile");
        this.clipLearningRate = privacy.getDouble("adaptive-clip.learning-rate");
        this.countNoise = privacy.getDouble("adaptive-clip.count-noise");
        this.seed = settings.seed();
        this.clients = clientSizes.length;
        this.expectedClients = settings.sampledClients(clients);
        this.q = poisson ? settings.clientFraction() : expectedClients / (double) clients;
        long largest = Arrays.stream(clientSizes).max().orElse(0);
        this.weightUnit = Double.isInfinite(weightCap) ? largest : weightCap;
        double total = 0;
        for (long n : clientSizes) {
            total += weight(n);
        }
        this.totalWeight = total;
        String accountant = privacy.getString("accountant");
        require(accountant.equals("rdp") || accountant.equals("pld"), "train.privacy.accountant must be rdp or pld, got '" + accountant + "'");
        this.pld = accountant.equals("pld");
        int maxRounds = privacy.getInt("local-max-rounds");
        this.localMaxRounds = maxRounds > 0 ? maxRounds : (int) Math.ceil(2 * q * settings.rounds());
        int canaryCount = privacy.getInt("audit.canaries");
        if (mode == Mode.OFF) {
            this.noiseMultiplier = 0;
            this.clip = (float) initialClip;
            this.canaries = null;
            return;
        }
        require(initialClip > 0 && Double.isFinite(initialClip), "train.privacy.clip must be positive, got " + initialClip);
        require(delta > 0 && delta < 1, "train.privacy.delta must be in (0, 1), got " + delta);
        require(targetEpsilon >= 0, "train.privacy.target-epsilon cannot be negative, got " + targetEpsilon);
        require(weightCap >= 1, "train.privacy.weight-cap must be at least 1 or inf, got " + cap);
        require(q > 0 && q <= 1, "train.privacy needs a sampling probability q = C in (0, 1], got " + q);
        require(!adaptive || (targetQuantile > 0 && targetQuantile < 1 && clipLearningRate > 0 && countNoise > 0),
                "train.privacy.adaptive-clip needs target-quantile in (0, 1), learning-rate > 0 and count-noise > 0");
        require(mode == Mode.CENTRAL || !adaptive, "adaptive clipping is a central-DP mechanism (train.privacy.mode = central)");
        require(maxRounds >= 0, "train.privacy.local-max-rounds must be at least 1, or 0 for 2 q T rounded up, got " + maxRounds);
        double z = privacy.getDouble("noise-multiplier");
        if (targetEpsilon > 0 && !stopAtTarget) {
            // local DP's mechanism is the Gaussian one at z / 2 (replace-one): z is twice the multiplier that spends the target
            z = mode == Mode.CENTRAL ? noiseFor(targetEpsilon, q, settings.rounds()) : 2 * noiseFor(targetEpsilon, 1, localMaxRounds);
        }
        require(z >= 0 && Double.isFinite(z), "train.privacy.noise-multiplier must be finite and not negative, got " + z);
        boolean noised = z > 0 || targetEpsilon > 0;
        require(mode != Mode.CENTRAL || !noised || poisson, "train.privacy.sampling = uniform is not accounted under central DP: "
                + "the accountants cover Poisson sampling (each client with probability q = C), which train.privacy.sampling = poisson "
                + "gives; uniform sampling is offered with noise-multiplier = 0 only (clipping alone, epsilon infinite)");
        require(mode != Mode.CENTRAL || !noised || fixedDenominator, "train.privacy.estimator = ratio is not accounted under central DP: "
                + "its denominator, the sampled clients' weight, is released without noise; use estimator = fixed (the default), or "
                + "ratio with noise-multiplier = 0 only");
        require(canaryCount == 0 || mode == Mode.CENTRAL, "train.privacy.audit.canaries audits central DP's released models; "
                + "under local DP every client's own update is the release");
        // z^-2 = z_update^-2 + (2 count-noise)^-2 leaves the update a multiplier only for z below 2 count-noise
        require(!adaptive || z == 0 || 1 / (z * z) > 1 / (4 * countNoise * countNoise),
                "adaptive clipping with count-noise " + countNoise + " needs noise-multiplier below " + 2 * countNoise
                + " (2 x count-noise), got " + z + ": raise count-noise or lower the noise multiplier");
        this.noiseMultiplier = z;
        this.clip = (float) initialClip;
        this.canaries = canaryCount > 0 ? new CanaryAudit(canaryCount, parameters, q, seed) : null;
    }

    private double noiseFor(double target, double rate, long steps) {
        return pld ? PldAccountant.noiseFor(target, delta, rate, steps) : RdpAccountant.noiseFor(target, delta, rate, steps);
    }

    private double epsilonOf(double rate, double multiplier, long steps) {
        return pld ? PldAccountant.epsilonOf(rate, multiplier, steps, delta) : RdpAccountant.epsilonOf(rate, multiplier, steps, delta);
    }

    /** Test only: the noise the server adds, times {@code scale}, while the accountant still assumes z (a broken mechanism). */
    void scaleAppliedNoiseForTest(double scale) {
        this.appliedNoiseScale = scale;
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    public boolean on() {
        return mode != Mode.OFF;
    }

    public Mode mode() {
        return mode;
    }

    /** True when clients also report whether they were within the clip (adaptive clipping). */
    public boolean adaptiveClip() {
        return mode != Mode.OFF && adaptive;
    }

    /** z, as given or as sized for the target epsilon. */
    public double noiseMultiplier() {
        return noiseMultiplier;
    }

    /** The round's clients: Poisson (each with probability q) or FedAvg's uniform sample; under local DP, without those whose budget is spent. */
    public int[] sample(int round) {
        int[] sampled;
        if (poisson) {
            SplittableRandom random = new SplittableRandom(Seeds.mix(seed, Seeds.SAMPLING, round));
            int[] chosen = new int[clients];
            int n = 0;
            for (int k = 0; k < clients; k++) {
                if (random.nextDouble() < q) {
                    chosen[n++] = k;
                }
            }
            sampled = Arrays.copyOf(chosen, n);
        } else {
            sampled = ClientSampler.sample(clients, expectedClients, seed, round);
        }
        if (mode == Mode.LOCAL) {
            if (participations == null) {
                participations = new int[clients];
            }
            sampled = Arrays.stream(sampled).filter(k -> participations[k] < localMaxRounds).toArray();
            for (int k : sampled) {
                participations[k]++;
            }
        }
        return sampled;
    }

    /** A client's weight, in units that keep it integral: min(n_k, cap) (0 for an empty client). */
    public double weight(long examples) {
        return Math.min(examples, weightCap);
    }

    /** What the clients do first, before any compression: clip, and under local DP add their noise. */
    public List<UpdateTransform> clientTransforms(int firstStep) {
        List<UpdateTransform> transforms = new ArrayList<>();
        if (mode == Mode.OFF) {
            return transforms;
        }
        transforms.add(new Clip(initialClip, perLayer, adaptive));
        if (mode == Mode.LOCAL) {
            transforms.add(new GaussianNoise(noiseMultiplier * initialClip, firstStep + 1));
        }
        return transforms;
    }

    /**
     * What the clients do last under central DP when they compress: clip the sent update again (flat), since error
     * feedback adds the residual after the first clip and stochastic quantization can lengthen a vector; the
     * sensitivity the noise is sized for is then kept. Empty otherwise.
     */
    public List<UpdateTransform> finalTransforms() {
        return mode == Mode.CENTRAL ? List.of(new Clip(initialClip, false, adaptive, false)) : List.of();
    }

    /** What the server shares with the round's clients: the adaptive clip. */
    public Map<String, float[]> shared() {
        return adaptive ? Map.of(Clip.SHARED_CLIP, new float[] {(float) clip}) : Map.of();
    }

    /**
     * The next global model from the round's clipped updates: central DP's noised fixed-denominator (or ratio) mean
     * added to the global model; under local DP the clients' noised updates averaged as FedAvg does.
     */
    public float[] privateModel(int round, float[] global, WeightedSum aggregate) {
        boolean anyClient = aggregate.clients() > 0;
        if (!anyClient && !fixedDenominator) {
            account(); // the ratio estimator has no denominator without clients: the model stays
            adaptClip(round, aggregate);
            return global.clone();
        }
        if (mode == Mode.LOCAL || (!fixedDenominator && noiseMultiplier == 0)) {
            account();
            adaptClip(round, aggregate);
            return anyClient ? aggregate.meanModel(global) : global.clone();
        }
        double updateNoise = updateNoiseMultiplier();
        double denominator = fixedDenominator ? q * totalWeight : aggregate.vectors().weight();
        double[] mean = anyClient ? aggregate.vectors().sum() : new double[global.length];
        if (canaries != null) {
            canaries.observe(global);
            canaries.insert(round, mean, clip * weightUnit); // each: the largest update a client may send
        }
        double std = updateNoise * clip * weightUnit / denominator * appliedNoiseScale;
        SplittableRandom random = new SplittableRandom(Seeds.mix(seed, NOISE, round));
        double[] noise = new double[global.length];
        Gaussian.addNoise(noise, std, random);
        float[] next = new float[global.length];
        for (int j = 0; j < global.length; j++) {
            next[j] = (float) (global[j] + mean[j] / denominator + noise[j]);
        }
        account();
        adaptClip(round, aggregate);
        if (canaries != null) {
            canaries.measure(global, next, delta);
        }
        return next;
    }

    /** The update's noise multiplier: z, or under adaptive clipping what z leaves once the count's noise is spent. */
    double updateNoiseMultiplier() {
        return adaptive && noiseMultiplier > 0 ? Math.pow(Math.pow(noiseMultiplier, -2) - Math.pow(2 * countNoise, -2), -0.5) : noiseMultiplier;
    }

    /** The noised count's sensitivity: one client's report is +1/2 or -1/2 ({@link Clip#belowClipReport}). */
    static final double COUNT_SENSITIVITY = 0.5;

    private void adaptClip(int round, WeightedSum aggregate) {
        if (!adaptive) {
            return;
        }
        double centred = aggregate.clients() > 0 ? aggregate.named(Clip.BELOW_CLIP).sum()[0] : 0; // sum of +-1/2
        double[] noise = new double[1];
        Gaussian.addNoise(noise, countNoise * appliedNoiseScale, new SplittableRandom(Seeds.mix(seed, NOISE, round, 1)));
        lastBelowClip = Math.min(1, Math.max(0, (centred + noise[0]) / (q * clients) + 0.5));
        clip = (float) (clip * Math.exp(-clipLearningRate * (lastBelowClip - targetQuantile))); // a float, as checkpoints keep it
    }

    private void account() {
        roundsAccounted++;
        lastEpsilon = epsilonAfter(roundsAccounted);
    }

    /** Epsilon spent after {@code rounds} rounds (local: by the client that took part most). */
    private double epsilonAfter(int rounds) {
        if (mode == Mode.CENTRAL) {
            return epsilonOf(q, noiseMultiplier, rounds);
        }
        int most = participations == null ? 0 : Arrays.stream(participations).max().orElse(0);
        return most == 0 ? 0 : epsilonOf(1, noiseMultiplier / LOCAL_SENSITIVITY, most);
    }

    /** Local DP's sensitivity in units of the clip: two clipped updates of one client differ by up to 2S. */
    static final double LOCAL_SENSITIVITY = 2;

    /**
     * Null, or why round {@code round} must not run: with target-mode = stop, the epsilon it would bring the run to
     * is above the target.
     */
    public String refusal(int round) {
        if (mode != Mode.CENTRAL || !stopAtTarget || targetEpsilon <= 0) {
            return null;
        }
        double next = epsilonOf(q, noiseMultiplier, roundsAccounted + 1);
        return next <= targetEpsilon ? null : String.format(Locale.ROOT,
                "the privacy budget: round %d would bring epsilon to %.4g, above train.privacy.target-epsilon = %s (delta %s)",
                round, next, targetEpsilon, delta);
    }

    /** Metrics columns: epsilon spent, the clip, the noise multiplier, and for adaptive clipping the noised share below the clip. */
    public Map<String, Double> metrics() {
        Map<String, Double> columns = new LinkedHashMap<>();
        if (mode == Mode.OFF) {
            return columns;
        }
        columns.put("epsilon", lastEpsilon);
        columns.put("clip", clip);
        columns.put("noise_multiplier", noiseMultiplier);
        if (adaptive) {
            columns.put("below_clip", lastBelowClip);
        }
        if (canaries != null) {
            columns.putAll(canaries.metrics());
        }
        return columns;
    }

    /** The server state a checkpoint keeps: rounds accounted, the clip, local DP's participations. */
    public Map<String, float[]> state() {
        if (mode == Mode.OFF) {
            return Map.of();
        }
        Map<String, float[]> state = new LinkedHashMap<>();
        state.put("dp_rounds", new float[] {roundsAccounted});
        state.put("dp_clip", new float[] {(float) clip});
        if (participations != null) {
            float[] counts = new float[participations.length];
            for (int k = 0; k < counts.length; k++) {
                counts[k] = participations[k];
            }
            state.put("dp_participations", counts);
        }
        if (canaries != null) {
            state.putAll(canaries.state());
        }
        return state;
    }

    /** Restores what {@link #state} kept, removing its entries from {@code state}. */
    public void restore(Map<String, float[]> state) {
        float[] rounds = state.remove("dp_rounds");
        float[] savedClip = state.remove("dp_clip");
        float[] counts = state.remove("dp_participations");
        if (canaries != null) {
            canaries.restore(state);
        }
        if (rounds != null) {
            roundsAccounted = (int) rounds[0];
            lastEpsilon = epsilonAfterRestore();
        }
        if (savedClip != null) {
            clip = savedClip[0];
        }
        if (counts != null) {
            participations = new int[counts.length];
            for (int k = 0; k < counts.length; k++) {
                participations[k] = (int) counts[k];
            }
        }
    }

    private double epsilonAfterRestore() {
        return mode == Mode.CENTRAL ? epsilonOf(q, noiseMultiplier, roundsAccounted) : Double.NaN;
    }
}
