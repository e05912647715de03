package fedspark.engine.simulation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import com.typesafe.config.Config;

import fedspark.engine.ClientSampler;
import fedspark.engine.Seeds;
import fedspark.engine.TrainSettings;

/**
 * Synchronous rounds in simulated time (train.simulation): the server samples m' = ceil((1 + over-selection) m)
 * clients; each fails with probability {@code dropout} (seeded), or when the {@code dropout-trace} (a CSV file of
 * lines {@code round,client}) says so, and otherwise finishes after its simulated
 * duration; the round takes the first m to finish, and with a {@code deadline} no one after it: a straggler is cut,
 * or with {@code stragglers = partial} counted with the steps it completed by the deadline. Planned on the driver
 * before the round's job, so only the clients whose updates count train. With no over-selection, no dropout and no
 * deadline the round's clients are FedAvg's.
 */
public final class SynchronousRounds {

    private static final long FAILURE = 9;

    private final ClientProfiles profiles;
    private final double deadline;
    private final double overSelection;
    private final double dropout;
    private final boolean partial;
    private final long seed;
    private final long modelBytes;
    private final int clientsPerRound;
    private final java.util.Set<Long> traced = new java.util.HashSet<>(); // round << 32 | client: failures the trace lists

    /** What a round's plan decided: who trains, with which step budgets (partial stragglers), and the round's simulated seconds. */
    public record Plan(int[] clients, Map<Integer, Long> stepBudgets, double seconds, int failed, int cut) {
    }

    public SynchronousRounds(Config simulation, TrainSettings settings, long[] clientSizes, long modelBytes) {
        this.profiles = new ClientProfiles(simulation, settings, clientSizes);
        this.deadline = simulation.getDouble("deadline");
        this.overSelection = simulation.getDouble("over-selection");
        this.dropout = simulation.getDouble("dropout");
        String stragglers = simulation.getString("stragglers");
        if (!stragglers.equals("cut") && !stragglers.equals("partial")) {
            throw new IllegalArgumentException("train.simulation.stragglers must be cut or partial, got '" + stragglers + "'");
        }
        if (deadline < 0 || overSelection < 0 || !(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("train.simulation needs deadline >= 0, over-selection >= 0 and dropout in [0, 1)");
        }
        this.partial = stragglers.equals("partial");
        this.seed = settings.seed();
        this.modelBytes = modelBytes;
        this.clientsPerRound = settings.sampledClients(clientSizes.length);
        String trace = simulation.getString("dropout-trace");
        if (!trace.isEmpty()) {
            String[] lines = fedspark.data.HadoopFiles.readString(new org.apache.hadoop.fs.Path(trace), new org.apache.hadoop.conf.Configuration())
                    .split("\n");
            for (int i = 0; i < lines.length; i++) {
                String line = lines[i].trim();
                if (line.isEmpty() || line.startsWith("round")) {
                    continue;
                }
                String[] f = line.split(",");
                try {
                    long round = Long.parseLong(f[0].trim());
                    long client = Long.parseLong(f[1].trim());
                    if (round < 1 || client < 0 || client >= clientSizes.length || f.length != 2) {
                        throw new IllegalArgumentException("round >= 1 and a client in [0, " + clientSizes.length + ")");
                    }
                    traced.add(round << 32 | client);
                } catch (RuntimeException e) {
                    throw new fedspark.data.BadInputException(trace + " line " + (i + 1) + ": '" + line + "' is not round,client ("
                            + e.getMessage() + ")");
                }
            }
        }
    }

    public ClientProfiles profiles() {
        return profiles;
    }

    public Plan plan(int round, int clients) {
        int wanted = clientsPerRound;
        int sampled = (int) Math.min(clients, Math.ceil((1 + overSelection) * wanted));
        int[] candidates = ClientSampler.sample(clients, sampled, seed, round);
        SplittableRandom failures = new SplittableRandom(Seeds.mix(seed, FAILURE, round));
        List<double[]> finishing = new ArrayList<>(); // (client, finish time)
        int failed = 0;
        for (int k : candidates) {
            boolean fails = failures.nextDouble() < dropout || traced.contains((long) round << 32 | k);
            if (fails) {
                failed++;
            } else {
                finishing.add(new double[] {k, profiles.duration(k, profiles.steps(k), modelBytes, modelBytes)});
            }
        }
        finishing.sort(Comparator.<double[]>comparingDouble(c -> c[1]).thenComparingDouble(c -> c[0]));
        List<Integer> chosen = new ArrayList<>();
        Map<Integer, Long> budgets = new LinkedHashMap<>();
        double seconds = 0;
        int cut = 0;
        for (double[] c : finishing) {
            int k = (int) c[0];
            if (chosen.size() == wanted) {
                break;
            }
            if (deadline > 0 && c[1] > deadline) {
                long done = partial ? profiles.stepsWithin(k, deadline, modelBytes, modelBytes) : 0;
                if (done > 0) {
                    chosen.add(k);
                    budgets.put(k, done);
                } else {
                    cut++;
                }
                seconds = deadline;
            } else {
                chosen.add(k);
                seconds = Math.max(seconds, c[1]);
            }
        }
        if (deadline > 0 && chosen.size() < wanted) {
            seconds = deadline; // the server waited for clients that never came
        }
        int[] ids = chosen.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(ids);
        return new Plan(ids, budgets, seconds, failed, cut);
    }
}
