package fedspark.engine.secagg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The masks of secure aggregation, from the JDK's cryptography: pair seeds by X25519 key agreement, expanded into
 * 64-bit words by AES-256 in counter mode keyed with SHA-256 of the seed and the round. Client u adds the pair mask
 * of (u, v) for every other sampled client v, with a plus sign when u &lt; v and a minus sign otherwise, so that the
 * pair masks cancel in the sum modulo 2^64; and its self mask, which the server removes once it has reconstructed
 * the seed from the survivors' shares.
 */
public final class Masks {

    private Masks() {
    }

    /** Adds {@code sign} times the mask expanded from {@code seed} (and the round, and a label) to {@code values}, modulo 2^64. */
    public static void add(long[] values, byte[] seed, int round, String label, int sign) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(seed);
            sha.update(ByteBuffer.allocate(4).putInt(round).array());
            sha.update(label.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            Cipher aes = Cipher.getInstance("AES/CTR/NoPadding");
            aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(sha.digest(), "AES"), new IvParameterSpec(new byte[16]));
            int chunk = 1 << 13; // words per keystream block
            byte[] zeros = new byte[chunk * 8];
            for (int from = 0; from < values.length; from += chunk) {
                int words = Math.min(chunk, values.length - from);
                ByteBuffer stream = ByteBuffer.wrap(aes.update(zeros, 0, words * 8)).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < words; i++) {
                    values[from + i] += sign * stream.getLong();
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK's AES-CTR or SHA-256 is not available", e);
        }
    }

    /** The pair seed of a private key and another client's public key (X25519), the same from either side. */
    public static byte[] pairSeed(byte[] privateKey, byte[] publicKey) {
        try {
            KeyFactory keys = KeyFactory.getInstance("XDH");
            PrivateKey own = keys.generatePrivate(new PKCS8EncodedKeySpec(privateKey));
            PublicKey other = keys.generatePublic(new X509EncodedKeySpec(publicKey));
            KeyAgreement agreement = KeyAgreement.getInstance("XDH");
            agreement.init(own);
            agreement.doPhase(other, true);
            return agreement.generateSecret();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 key agreement failed", e);
        }
    }

    /** Client {@code client}'s masked input: its encoded values plus its self mask and its pair masks with every other sampled client. */
    public static long[] mask(long[] encoded, int client, SecureRound round) {
        SecureRound.ClientSecrets own = round.secrets().get(client);
        if (own == null) {
            throw new IllegalStateException("client " + client + " took no part in round " + round.round() + "'s key setup");
        }
        long[] masked = encoded.clone();
        add(masked, own.selfMaskSeed(), round.round(), "self", 1);
        for (var other : round.publicKeys().entrySet()) {
            int v = other.getKey();
            if (v != client) {
                add(masked, pairSeed(own.privateKey(), other.getValue()), round.round(), "pair", client < v ? 1 : -1);
            }
        }
        return masked;
    }
}
