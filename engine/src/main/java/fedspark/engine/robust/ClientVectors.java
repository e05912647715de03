package fedspark.engine.robust;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;

import fedspark.engine.ServedClient;
import fedspark.engine.aggregate.Aggregate;
import fedspark.engine.strategy.ClientResult;

/**
 * The aggregate of robust rules: every client's update kept whole, so the driver holds m updates (O(m x model)
 * memory) and the rule sees each one. Sorted by client before a rule reads them, so the result does not depend on the
 * order Spark merges partial aggregates in.
 */
public final class ClientVectors implements Aggregate<ClientVectors> {

    /** One client's update and its weight (n_k). */
    public record Entry(int client, double weight, float[] update) implements java.io.Serializable {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final List<ServedClient> served = new ArrayList<>();
    private final BitSet counted = new BitSet();
    private long examples;
    private double lossSum;
    private long lossCount;
    private long bytes;

    @Override
    public ClientVectors fresh() {
        return new ClientVectors();
    }

    @Override
    public ClientVectors add(ClientResult result) {
        serve(ServedClient.here(result.client(), result.examples()));
        if (result.examples() > 0) {
            entries.add(new Entry(result.client(), result.weight(), result.vector()));
            examples += result.examples();
            lossSum += result.lossSum();
            lossCount += result.lossCount();
            bytes += result.bytes();
        }
        return this;
    }

    @Override
    public ClientVectors merge(ClientVectors other) {
        other.served.forEach(this::serve);
        entries.addAll(other.entries);
        examples += other.examples;
        lossSum += other.lossSum;
        lossCount += other.lossCount;
        bytes += other.bytes;
        return this;
    }

    private void serve(ServedClient client) {
        if (counted.get(client.client())) {
            throw new IllegalStateException("client " + client.client() + " counted twice in one round");
        }
        counted.set(client.client());
        served.add(client);
    }

    /** The clients' updates, by client id. */
    public List<Entry> entries() {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingInt(Entry::client));
        return sorted;
    }

    @Override
    public List<ServedClient> served() {
        return List.copyOf(served);
    }

    @Override
    public int clients() {
        return entries.size();
    }

    @Override
    public long examples() {
        return examples;
    }

    @Override
    public double meanLoss() {
        return lossCount == 0 ? Double.NaN : lossSum / lossCount; // a double sum: the loss column may differ in its last digits between merge orders
    }

    @Override
    public long bytes() {
        return bytes;
    }
}
