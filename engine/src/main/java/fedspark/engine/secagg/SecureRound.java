package fedspark.engine.secagg;

import java.io.Serializable;
import java.util.Map;
import java.util.Set;

/**
 * What the round's clients receive from the secure-aggregation setup (Bonawitz et al. 2017's AdvertiseKeys and
 * ShareKeys steps, played by the driver): every sampled client's X25519 public key, each client's own secrets (its
 * masking private key and self-mask seed), and the clients whose masked input will be lost after masking (the
 * simulated dropouts). A client's task reads its own secrets only.
 *
 * @param round      the round (it keys the masks)
 * @param publicKeys X.509 encodings of the sampled clients' public keys
 * @param secrets    per client: its private key (PKCS#8) and self-mask seed
 * @param dropouts   clients that mask and then drop out
 */
public record SecureRound(int round, Map<Integer, byte[]> publicKeys, Map<Integer, ClientSecrets> secrets, Set<Integer> dropouts)
        implements Serializable {

    /** One client's masking private key and self-mask seed. */
    public record ClientSecrets(byte[] privateKey, byte[] selfMaskSeed) implements Serializable {
    }
}
