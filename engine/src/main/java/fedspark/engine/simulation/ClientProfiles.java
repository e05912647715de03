package fedspark.engine.simulation;

import java.util.SplittableRandom;

import com.typesafe.config.Config;

import fedspark.engine.Seeds;
import fedspark.engine.TrainSettings;
import fedspark.engine.logic.Gaussian;

/**
 * Simulated clients (train.simulation): each client's compute speed (local steps per simulated second) and
 * bandwidth (bytes per simulated second, each way), drawn once from log-normal profiles seeded by the run seed and the
 * client (a sigma of 1.5 or more is heavy-tailed), or read from a table the user supplies ({@code profile-table}: a
 * CSV file of lines {@code client,speed,bandwidth}, every client once, on any Hadoop file system). A client's update takes its steps at its
 * speed plus the model down and its update up at its bandwidth; nothing of it depends on wall time, so simulated
 * time is the same on any machine.
 */
public final class ClientProfiles {

    private static final long PROFILE = 8;

    private final double[] speed;
    private final double[] bandwidth;
    private final long[] sizes;
    private final int epochs;
    private final int batch;

    public ClientProfiles(Config simulation, TrainSettings settings, long[] clientSizes) {
        int clients = clientSizes.length;
        this.sizes = clientSizes.clone();
        this.epochs = settings.localEpochs();
        this.batch = settings.batchSize();
        this.speed = new double[clients];
        this.bandwidth = new double[clients];
        double speedMedian = simulation.getDouble("speed.median");
        double speedSigma = simulation.getDouble("speed.sigma");
        double bandwidthMedian = simulation.getDouble("bandwidth.median");
        double bandwidthSigma = simulation.getDouble("bandwidth.sigma");
        if (!(speedMedian > 0 && bandwidthMedian > 0 && speedSigma >= 0 && bandwidthSigma >= 0)) {
            throw new IllegalArgumentException("train.simulation needs positive speed.median and bandwidth.median and sigmas >= 0");
        }
        String table = simulation.getString("profile-table");
        if (!table.isEmpty()) {
            readTable(table, clients);
            return;
        }
        for (int k = 0; k < clients; k++) {
            double[] z = new double[2];
            Gaussian.addNoise(z, 1, new SplittableRandom(Seeds.mix(settings.seed(), PROFILE, k)));
            speed[k] = speedMedian * Math.exp(speedSigma * z[0]);
            bandwidth[k] = bandwidthMedian * Math.exp(bandwidthSigma * z[1]);
        }
    }

    private void readTable(String table, int clients) {
        String text = fedspark.data.HadoopFiles.readString(new org.apache.hadoop.fs.Path(table), new org.apache.hadoop.conf.Configuration());
        java.util.BitSet seen = new java.util.BitSet(clients);
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].trim();
            if (line.isEmpty() || line.startsWith("client")) {
                continue; // a header
            }
            String[] f = line.split(",");
            try {
                int k = Integer.parseInt(f[0].trim());
                double s = Double.parseDouble(f[1].trim());
                double b = Double.parseDouble(f[2].trim());
                if (k < 0 || k >= clients || seen.get(k) || !(s > 0) || !(b > 0) || Double.isInfinite(s) || Double.isInfinite(b)) {
                    throw new IllegalArgumentException("a client in [0, " + clients + ") listed once with positive finite speed and bandwidth");
                }
                seen.set(k);
                speed[k] = s;
                bandwidth[k] = b;
            } catch (RuntimeException e) {
                throw new fedspark.data.BadInputException(table + " line " + (i + 1) + ": '" + line + "' is not client,speed,bandwidth ("
                        + e.getMessage() + ")");
            }
        }
        if (seen.cardinality() != clients) {
            throw new fedspark.data.BadInputException(table + ": no profile for client " + seen.nextClearBit(0) + " (every one of the "
                    + clients + " clients needs a line)");
        }
    }

    /** Client k's local steps in a round: E ceil(n_k / B). */
    public long steps(int client) {
        long n = sizes[client];
        long perEpoch = batch == TrainSettings.WHOLE_SHARD ? 1 : (n + batch - 1) / batch;
        return n == 0 ? 0 : epochs * perEpoch;
    }

    /** Simulated seconds for client k to receive {@code down} bytes, take {@code steps} steps and send {@code up} bytes. */
    public double duration(int client, long steps, long down, long up) {
        return steps / speed[client] + (down + up) / bandwidth[client];
    }

    /** Steps client k completes within {@code seconds}, after receiving {@code down} bytes and leaving time to send {@code up}. */
    public long stepsWithin(int client, double seconds, long down, long up) {
        double left = seconds - (down + up) / bandwidth[client];
        return left <= 0 ? 0 : (long) Math.floor(left * speed[client]);
    }

    public double speed(int client) {
        return speed[client];
    }
}
