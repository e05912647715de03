package fedspark.engine.aggregate;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import fedspark.engine.ServedClient;
import fedspark.engine.strategy.ClientResult;

/**
 * The default aggregate: sum_k w_k x_k and sum_k w_k for the clients' vectors (w_k = n_k for FedAvg), and the
 * same for every named quantity they send, each in exact fixed point ({@link FixedPointSum}), so the average is
 * the same bit for bit in whatever order Spark merges partial sums: a run is reproducible on any number of
 * executors and after task retries.
 */
public final class WeightedSum implements Aggregate<WeightedSum> {

    private static final double LOSS_SCALE = 0x1p24;

    private final FixedPointSum vectors = new FixedPointSum("the update");
    private final Map<String, FixedPointSum> named = new TreeMap<>();
    private long examples;
    private int clients;
    private long lossSum;
    private long lossCount;
    private long bytes;
    private boolean modelDeltas; // clients sent their model's change (the logic layer), not their model
    private long[] masked; // secure aggregation: the masked encodings' sum, modulo 2^64, until unmask
    private final BitSet maskedFrom = new BitSet();
    private final List<ServedClient> served = new ArrayList<>();
    private final BitSet counted = new BitSet();

    /** The empty sum (treeAggregate's zero value). */
    public static WeightedSum empty() {
        return new WeightedSum();
    }

    @Override
    public WeightedSum fresh() {
        return new WeightedSum();
    }

    @Override
    public WeightedSum add(ClientResult result) {
        serve(List.of(ServedClient.here(result.client(), result.examples())));
        if (result.masked() != null) {
            addMasked(result.masked());
            maskedFrom.set(result.client());
            bytes += result.bytes();
            return this;
        }
        if (result.examples() == 0) {
            return this; // an empty client has no weight
        }
        if (result.update() != null) {
            modelDeltas |= result.update().isModelDelta();
            vectors.add(result.client(), result.update(), result.weight());
        } else {
            vectors.add(result.client(), result.vector(), result.weight());
        }
        bytes += result.bytes();
        for (Map.Entry<String, ClientResult.Weighted> entry : result.named().entrySet()) {
            named.computeIfAbsent(entry.getKey(), FixedPointSum::new)
                    .add(result.client(), entry.getValue().values(), entry.getValue().weight());
        }
        examples += result.examples();
        clients++;
        lossSum += Math.round(result.lossSum() * LOSS_SCALE);
        lossCount += result.lossCount();
        return this;
    }

    @Override
    public WeightedSum merge(WeightedSum other) {
        serve(other.served);
        if (other.masked != null) {
            addMasked(other.masked);
        }
        maskedFrom.or(other.maskedFrom);
        vectors.merge(other.vectors);
        for (Map.Entry<String, FixedPointSum> entry : other.named.entrySet()) {
            named.computeIfAbsent(entry.getKey(), FixedPointSum::new).merge(entry.getValue());
        }
        examples += other.examples;
        bytes += other.bytes;
        modelDeltas |= other.modelDeltas;
        clients += other.clients;
        lossSum += other.lossSum;
        lossCount += other.lossCount;
        return this;
    }

    /** The weighted average of the clients' vectors, sum(w_k x_k) / sum(w_k); for clients that sent models, see {@link #meanModel}. */
    public float[] average() {
        if (modelDeltas) {
            throw new IllegalStateException("the clients sent their models' changes (train.update or train.privacy): "
                    + "the strategy must take meanModel(global), not average()");
        }
        return vectors.mean();
    }

    /**
     * The weighted average of the clients' models, whether they sent their models or (through the logic layer) their
     * changes from {@code global}; bit for bit the same when the logic layer changed nothing.
     */
    public float[] meanModel(float[] global) {
        return modelDeltas ? vectors.meanAround(global) : vectors.mean();
    }

    // The encoding secure aggregation masks: w x (the vector's length), then w, n_k, the loss sum, the loss count, the
    // magnitude bound and 1 for a client with examples, each summed modulo 2^64 with the others'.
    public static final int ENCODED_EXTRA = 6;

    /** {@code result} as secure aggregation masks it: every number the sum needs, in fixed point (zeros for an empty client). */
    public static long[] encode(ClientResult result, int length, boolean modelDelta) {
        long[] out = new long[length + ENCODED_EXTRA];
        if (result.examples() == 0) {
            return out;
        }
        if (!result.named().isEmpty()) {
            throw new IllegalStateException("secure aggregation covers a client's vector; client " + result.client() + " also sent "
                    + result.named().keySet());
        }
        if (result.update() != null && result.update().isModelDelta() != modelDelta) {
            throw new IllegalStateException("secure aggregation was set up for " + (modelDelta ? "model changes" : "models"));
        }
        FixedPointSum.Encoded encoded = FixedPointSum.encode(result.client(), result.vector(), result.update(), result.weight());
        if (encoded.sums().length != length) {
            throw new IllegalStateException("client " + result.client() + " sent " + encoded.sums().length + " values, expected " + length);
        }
        System.arraycopy(encoded.sums(), 0, out, 0, length);
        out[length] = encoded.weight();
        out[length + 1] = result.examples();
        out[length + 2] = Math.round(result.lossSum() * LOSS_SCALE);
        out[length + 3] = result.lossCount();
        out[length + 4] = encoded.bound();
        out[length + 5] = 1;
        return out;
    }

    private void addMasked(long[] values) {
        if (masked == null) {
            masked = new long[values.length];
        } else if (masked.length != values.length) {
            throw new IllegalStateException("masked inputs of " + masked.length + " and " + values.length + " values");
        }
        for (int i = 0; i < values.length; i++) {
            masked[i] += values[i]; // modulo 2^64, as the masks cancel
        }
    }

    /** The clients whose masked input arrived. */
    public java.util.Set<Integer> maskedClients() {
        return maskedFrom.stream().boxed().collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
    }

    /**
     * Secure aggregation's last step, on the driver: subtracts the masks' {@code correction} from the masked sum and
     * makes this the plain sum of the clients that delivered, as if they had been added unmasked.
     */
    public void unmask(long[] correction, boolean modelChanges) {
        if (masked == null) {
            return; // no client delivered
        }
        long[] plain = new long[masked.length];
        for (int i = 0; i < plain.length; i++) {
            plain[i] = masked[i] - correction[i];
        }
        int length = plain.length - ENCODED_EXTRA;
        clients = (int) plain[length + 5];
        examples = plain[length + 1];
        lossSum = plain[length + 2];
        lossCount = plain[length + 3];
        modelDeltas = modelChanges;
        if (clients > 0) {
            vectors.setUnmasked(plain, length, plain[length], plain[length + 4]);
        }
        masked = null;
    }

    /** The bytes the clients sent, as encoded. */
    public long bytes() {
        return bytes;
    }

    /** The sums of the clients' vectors. */
    public FixedPointSum vectors() {
        return vectors;
    }

    /** The sums of a named quantity. */
    public FixedPointSum named(String name) {
        FixedPointSum sum = named.get(name);
        if (sum == null) {
            throw new IllegalStateException("no client sent " + name + " in the round");
        }
        return sum;
    }

    @Override
    public List<ServedClient> served() {
        return List.copyOf(served);
    }

    @Override
    public int clients() {
        return clients;
    }

    @Override
    public long examples() {
        return examples;
    }

    @Override
    public double meanLoss() {
        return lossCount == 0 ? Double.NaN : lossSum / LOSS_SCALE / lossCount;
    }

    /** Records clients as counted; a client counted twice (say, by two attempts of one task) is an error, never an average. */
    private void serve(List<ServedClient> clients) {
        for (ServedClient client : clients) {
            if (counted.get(client.client())) {
                ServedClient first = served.stream().filter(c -> c.client() == client.client()).findFirst().orElseThrow();
                throw new IllegalStateException("client " + client.client() + " counted twice in one round: attempt "
                        + first.attempt() + " on executor " + first.executor() + " and attempt " + client.attempt()
                        + " on executor " + client.executor());
            }
            counted.set(client.client());
            served.add(client);
        }
    }
}
