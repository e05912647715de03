package fedspark.engine.secagg;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Map;

/**
 * Shamir's t-of-n secret sharing over the prime field of p = 2^521 - 1 (a Mersenne prime, above any 256-bit secret):
 * the secret is f(0) of a random polynomial of degree t - 1, share i is f(i); any t shares give f(0) back by Lagrange
 * interpolation, fewer tell nothing about it.
 */
public final class Shamir {

    static final BigInteger PRIME = BigInteger.ONE.shiftLeft(521).subtract(BigInteger.ONE);

    private Shamir() {
    }

    /** Shares f(1) .. f(n) of {@code secret} (32 bytes, unsigned) with threshold {@code t}. */
    public static BigInteger[] split(byte[] secret, int t, int n, SecureRandom random) {
        if (t < 1 || t > n) {
            throw new IllegalArgumentException("a threshold of " + t + " for " + n + " shares");
        }
        BigInteger[] coefficients = new BigInteger[t];
        coefficients[0] = new BigInteger(1, secret);
        for (int j = 1; j < t; j++) {
            coefficients[j] = uniformElement(random);
        }
        BigInteger[] shares = new BigInteger[n];
        for (int i = 1; i <= n; i++) {
            BigInteger x = BigInteger.valueOf(i);
            BigInteger y = BigInteger.ZERO;
            for (int j = t - 1; j >= 0; j--) {
                y = y.multiply(x).add(coefficients[j]).mod(PRIME); // Horner
            }
            shares[i - 1] = y;
        }
        return shares;
    }

    /**
     * A coefficient uniform over the whole field [0, p): fewer than t shares then tell nothing about the secret. (Drawn
     * from [0, 2^520), half the field, a share f(i) = s + ... would carry information about s.) Rejection sampling from
     * 521 random bits: a draw is kept with probability 1 - 2^-521.
     */
    static BigInteger uniformElement(SecureRandom random) {
        BigInteger value;
        do {
            value = new BigInteger(PRIME.bitLength(), random);
        } while (value.compareTo(PRIME) >= 0);
        return value;
    }

    /** The secret (as {@code length} bytes) from shares keyed by their x = 1..n; needs at least the threshold of them. */
    public static byte[] combine(Map<Integer, BigInteger> shares, int length) {
        BigInteger secret = BigInteger.ZERO;
        for (Map.Entry<Integer, BigInteger> i : shares.entrySet()) {
            BigInteger xi = BigInteger.valueOf(i.getKey());
            BigInteger numerator = BigInteger.ONE;
            BigInteger denominator = BigInteger.ONE;
            for (Integer j : shares.keySet()) {
                if (!j.equals(i.getKey())) {
                    BigInteger xj = BigInteger.valueOf(j);
                    numerator = numerator.multiply(xj.negate()).mod(PRIME);
                    denominator = denominator.multiply(xi.subtract(xj)).mod(PRIME);
                }
            }
            secret = secret.add(i.getValue().multiply(numerator).multiply(denominator.modInverse(PRIME))).mod(PRIME);
        }
        byte[] raw = secret.toByteArray();
        byte[] out = new byte[length];
        int copy = Math.min(length, raw.length);
        System.arraycopy(raw, raw.length - copy, out, length - copy, copy);
        return out;
    }
}
