package fedspark.engine.robust;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.commons.math3.distribution.NormalDistribution;

import com.typesafe.config.Config;

import fedspark.data.ClientShard;
import fedspark.engine.Seeds;
import fedspark.engine.logic.Gaussian;

/**
 * Byzantine clients (train.attack): floor(fraction K) clients, chosen once from the run seed, attack in every round
 * they are sampled. Client side: {@code sign-flip} sends the negated update, {@code scale} the update times
 * {@code scale} (model replacement), {@code gaussian} N(0, noise-std^2) noise instead of an update, {@code label-flip}
 * trains on labels c - 1 - y. Server side, {@code little-is-enough} (Baruch et al. 2019, "A Little Is Enough"): the
 * attackers collude and know the honest updates' coordinate-wise mean mu and standard deviation sigma, and send
 * mu - z sigma, which stays within the honest spread; the simulation computes mu and sigma on the driver from the
 * round's honest updates. z: the paper's z_max for m clients of which f attack, or the given one.
 */
public final class Attack implements Serializable {

    private static final long MALICIOUS = 6;
    private static final long NOISE = 7;

    private final String kind;
    private final BitSet malicious;
    private final double scale;
    private final double noiseStd;
    private final double z;
    private final long seed;
    private final int classes;

    public Attack(Config attack, int clients, int classes, long seed) {
        this.kind = attack.getString("kind");
        if (!List.of("none", "sign-flip", "scale", "gaussian", "label-flip", "little-is-enough").contains(kind)) {
            throw new IllegalArgumentException("train.attack.kind must be none, sign-flip, scale, gaussian, label-flip or "
                    + "little-is-enough, got '" + kind + "'");
        }
        double fraction = attack.getDouble("fraction");
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("train.attack.fraction must be in [0, 1), got " + fraction);
        }
        this.scale = attack.getDouble("scale");
        this.noiseStd = attack.getDouble("noise-std");
        this.z = attack.getDouble("z");
        this.seed = seed;
        this.classes = classes;
        this.malicious = new BitSet(clients);
        if (!kind.equals("none")) {
            // floor(fraction K) of K, seeded: a partial Fisher-Yates shuffle
            int count = (int) Math.floor(fraction * clients);
            int[] ids = new int[clients];
            for (int k = 0; k < clients; k++) {
                ids[k] = k;
            }
            SplittableRandom random = new SplittableRandom(Seeds.mix(seed, MALICIOUS));
            for (int i = 0; i < count; i++) {
                int j = i + random.nextInt(clients - i);
                int t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
                malicious.set(ids[i]);
            }
        }
    }

    public boolean isMalicious(int client) {
        return malicious.get(client);
    }

    /** The malicious clients, for the metrics. */
    public int count() {
        return malicious.cardinality();
    }

    /** The data a client trains on: under label flipping a malicious client's labels become c - 1 - y. */
    public ClientShard data(ClientShard shard) {
        if (!kind.equals("label-flip") || !isMalicious(shard.client())) {
            return shard;
        }
        int[] flipped = new int[shard.labels().length];
        for (int i = 0; i < flipped.length; i++) {
            flipped[i] = classes - 1 - shard.labels()[i];
        }
        return new ClientShard(shard.client(), shard.featureSize(), shard.features(), flipped);
    }

    /** What a malicious client sends in place of its update {@code delta} (client-side attacks). */
    public float[] corrupt(float[] delta, int client, int round) {
        if (!isMalicious(client)) {
            return delta;
        }
        float[] out = new float[delta.length];
        switch (kind) {
            case "sign-flip" -> {
                for (int j = 0; j < out.length; j++) {
                    out[j] = -delta[j];
                }
            }
            case "scale" -> {
                for (int j = 0; j < out.length; j++) {
                    out[j] = (float) (scale * delta[j]);
                }
            }
            case "gaussian" -> {
                double[] noise = new double[delta.length];
                Gaussian.addNoise(noise, noiseStd, new SplittableRandom(Seeds.mix(seed, NOISE, round, client)));
                for (int j = 0; j < out.length; j++) {
                    out[j] = (float) noise[j];
                }
            }
            default -> {
                return delta;
            }
        }
        return out;
    }

    /**
     * The round's updates as the server receives them: under little-is-enough the malicious clients' updates
     * replaced by mu - z sigma of the honest ones (unchanged when every sampled client is honest or malicious).
     */
    public List<ClientVectors.Entry> received(List<ClientVectors.Entry> updates) {
        if (!kind.equals("little-is-enough")) {
            return updates;
        }
        List<ClientVectors.Entry> honest = updates.stream().filter(e -> !isMalicious(e.client())).toList();
        int f = updates.size() - honest.size();
        if (f == 0 || honest.isEmpty()) {
            return updates;
        }
        int m = updates.size();
        double zUsed = z > 0 ? z : zMax(m, f);
        int d = updates.get(0).update().length;
        float[] crafted = new float[d];
        for (int j = 0; j < d; j++) {
            double sum = 0;
            double squares = 0;
            for (ClientVectors.Entry e : honest) {
                sum += e.update()[j];
                squares += (double) e.update()[j] * e.update()[j];
            }
            double mean = sum / honest.size();
            double std = Math.sqrt(Math.max(0, squares / honest.size() - mean * mean));
            crafted[j] = (float) (mean - zUsed * std);
        }
        List<ClientVectors.Entry> out = new ArrayList<>();
        for (ClientVectors.Entry e : updates) {
            out.add(isMalicious(e.client()) ? new ClientVectors.Entry(e.client(), e.weight(), crafted) : e);
        }
        return out;
    }

    /** Baruch et al.'s z_max: s = floor(m / 2 + 1) - f clients must be won over; z = Phi^-1((m - s) / m). */
    static double zMax(int m, int f) {
        int s = (int) Math.floor(m / 2.0 + 1) - f;
        double p = (m - s) / (double) m;
        return p <= 0 ? 0 : new NormalDistribution().inverseCumulativeProbability(Math.min(p, 1 - 1e-9));
    }
}
