package fedspark.engine.secagg;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

import fedspark.engine.Seeds;

/**
 * Secure aggregation (Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving Machine Learning"),
 * simulated in one Spark application, driver side. Each round: every sampled client gets an X25519 key pair and a
 * self-mask seed, both Shamir-shared t-of-m among the round's clients ({@link #setup}); on its executor each client
 * adds its masks to its fixed-point encoded update ({@link Masks#mask}), so every partial sum Spark merges, and the
 * sum the driver receives, are masked; the driver then asks the clients that delivered for their shares, rebuilds
 * their self-mask seeds and the private keys of the clients that dropped after masking, and removes those masks
 * ({@link #unmask}). Keys and seeds come from {@link SecureRandom}: they differ between runs, the unmasked sum does not.
 * <p>What it does not simulate: the clients' secrets are generated on the driver and travel to the executors in the
 * round's broadcast (every party lives in one JVM or one application), shares are kept by the driver on the clients'
 * behalf, and no message crosses a real network between clients. It shows the protocol's arithmetic, its dropout
 * recovery and its cost, and that no single client's update is visible outside its task.
 */
public final class SecureAggregation {

    private static final long DROPOUT = 5;
    /** A sum of fewer clients is one client's update in the clear. */
    public static final int MIN_CLIENTS = 2;
    private static final int PRIVATE_KEY_BYTES = 48; // PKCS#8 of an X25519 key
    private static final int SEED_BYTES = 32;

    private final double dropout;
    private final double thresholdFraction;
    private final long seed;
    private final SecureRandom random = new SecureRandom();
    private final Map<Integer, Shares> shares = new HashMap<>(); // round -> the shares the clients hold
    private int lastDropouts;

    private record Shares(int threshold, int[] clients, BigInteger[][] keyShares, BigInteger[][] seedShares) {
    }

    /**
     * @param dropout           probability that a sampled client drops out after masking (seeded by the run seed and round)
     * @param thresholdFraction t = max(2, ceil(fraction m)) shares rebuild a secret; at most m - t clients drop
     */
    public SecureAggregation(double dropout, double thresholdFraction, long seed) {
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("train.secure-aggregation.dropout must be in [0, 1), got " + dropout);
        }
        if (!(thresholdFraction > 0.5 && thresholdFraction <= 1)) {
            throw new IllegalArgumentException("train.secure-aggregation.threshold must be in (0.5, 1], got " + thresholdFraction);
        }
        this.dropout = dropout;
        this.thresholdFraction = thresholdFraction;
        this.seed = seed;
    }

    /** The round's key setup over {@code sampled} (ascending client ids). */
    public SecureRound setup(int round, int[] sampled) {
        int m = sampled.length;
        if (m < MIN_CLIENTS) {
            // a setting to change (the run's C or K): reported as bad input, one line
            throw new IllegalArgumentException("round " + round + ": secure aggregation needs at least " + MIN_CLIENTS
                    + " clients in a round, " + m + " was sampled (the masked sum of one client is that client's update); "
                    + "raise train.C or the number of clients");
        }
        int t = Math.min(m, Math.max(MIN_CLIENTS, (int) Math.ceil(thresholdFraction * m)));
        Map<Integer, byte[]> publicKeys = new TreeMap<>();
        Map<Integer, SecureRound.ClientSecrets> secrets = new TreeMap<>();
        BigInteger[][] keyShares = new BigInteger[m][];
        BigInteger[][] seedShares = new BigInteger[m][];
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("X25519");
            for (int i = 0; i < m; i++) {
                KeyPair pair = generator.generateKeyPair();
                byte[] privateKey = pair.getPrivate().getEncoded();
                byte[] selfSeed = new byte[SEED_BYTES];
                random.nextBytes(selfSeed);
                publicKeys.put(sampled[i], pair.getPublic().getEncoded());
                secrets.put(sampled[i], new SecureRound.ClientSecrets(privateKey, selfSeed));
                keyShares[i] = Shamir.split(privateKey, t, m, random);
                seedShares[i] = Shamir.split(selfSeed, t, m, random);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no X25519", e);
        }
        // Dropouts: seeded, so that a run repeats; never more than m - t, so that the masks can be rebuilt.
        SplittableRandom draw = new SplittableRandom(Seeds.mix(seed, DROPOUT, round));
        Set<Integer> dropouts = new TreeSet<>();
        for (int client : sampled) {
            if (draw.nextDouble() < dropout && dropouts.size() < m - t) {
                dropouts.add(client);
            }
        }
        shares.clear(); // one round at a time
        shares.put(round, new Shares(t, sampled.clone(), keyShares, seedShares));
        lastDropouts = dropouts.size();
        return new SecureRound(round, publicKeys, secrets, dropouts);
    }

    /**
     * The correction that turns the masked sum of the clients that {@code delivered} into their plain sum, modulo
     * 2^64: minus their self masks, and for every client that dropped, minus the pair masks the deliverers added
     * for it. Built from the deliverers' shares alone.
     */
    public long[] unmask(SecureRound round, Set<Integer> delivered, int length) {
        Shares held = shares.get(round.round());
        if (held == null) {
            throw new IllegalStateException("no key setup for round " + round.round());
        }
        int needed = Math.max(MIN_CLIENTS, held.threshold());
        if (delivered.size() < needed) {
            throw new IllegalStateException("round " + round.round() + ": secure aggregation refuses to unmask a sum of "
                    + delivered.size() + " delivering clients, fewer than the " + needed + " it needs (max(2, t), t = "
                    + held.threshold() + "): the sum would show a single client's update or could not be rebuilt");
        }
        long[] correction = new long[length];
        for (int i = 0; i < held.clients().length; i++) {
            int client = held.clients()[i];
            if (delivered.contains(client)) {
                byte[] selfSeed = Shamir.combine(sharesFrom(held.seedShares()[i], held, delivered), SEED_BYTES);
                Masks.add(correction, selfSeed, round.round(), "self", 1);
            } else {
                byte[] privateKey = Shamir.combine(sharesFrom(held.keyShares()[i], held, delivered), PRIVATE_KEY_BYTES);
                for (int u : delivered) {
                    // u added +mask(u, client) when u < client, -mask otherwise: the correction repeats what u added
                    Masks.add(correction, Masks.pairSeed(privateKey, round.publicKeys().get(u)), round.round(), "pair", u < client ? 1 : -1);
                }
            }
        }
        shares.remove(round.round());
        return correction;
    }

    /** The first t of the shares of one secret held by clients that delivered (share x = position in the round + 1). */
    private static Map<Integer, BigInteger> sharesFrom(BigInteger[] all, Shares held, Set<Integer> delivered) {
        Map<Integer, BigInteger> chosen = new LinkedHashMap<>();
        for (int j = 0; j < held.clients().length && chosen.size() < held.threshold(); j++) {
            if (delivered.contains(held.clients()[j])) {
                chosen.put(j + 1, all[j]);
            }
        }
        return chosen;
    }

    /** Clients of the last round set up that drop out after masking. */
    public int lastDropouts() {
        return lastDropouts;
    }
}
