package fedspark.jobs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.engine.RoundMetrics;
import fedspark.engine.Seeds;

/**
 * Hyper-parameter search over {@code tune.space} (setting key to a list of values, or to a range {@code {min, max,
 * log, int}}), every trial a run of its own under {@code tune.dir}, all in one Spark application. Schedulers:
 * {@code none} trains every trial for {@code max-rounds}; {@code successive-halving} (Jamieson and Talwalkar 2016)
 * trains all trials for {@code min-rounds}, keeps the best 1/eta and continues them from their checkpoints (the
 * rounds they already trained are not trained again) to eta times the rounds, until {@code max-rounds};
 * {@code hyperband} (Li et al. 2018) runs successive halving in brackets that trade the number of trials against
 * their starting rounds. Trials are ranked by {@code metric} at their last round ({@code mode} max or min), ties by
 * trial number. Configurations are drawn from the space seeded by {@code tune.seed} ({@code trials} of them, each
 * Hyperband bracket its own number); with {@code trials = 0} and a space of lists only, the trials are the grid's points. A tune folder that already holds trials goes on with them.
 */
public final class Tune {

    /** One configuration of the search: its name (its folder) and settings (key to value, in key order). */
    public record Trial(String name, int bracket, Map<String, Object> settings) {
    }

    /** A trial's outcome: the rounds it trained and its metric there. */
    public record Outcome(Trial trial, int rounds, double metric) {
    }

    /** The search's result: every trial's outcome (in trial order), the best one, and the rounds trained in all. */
    public record Result(List<Outcome> outcomes, Outcome best, long roundsTrained) {
    }

    private final Experiment base;
    private final Config tune;
    private final String metric;
    private final boolean maximize;
    private final int minRounds;
    private final int maxRounds;
    private final int eta;

    public Tune(Experiment base) {
        this.base = base;
        this.tune = base.config().getConfig("tune");
        if (tune.getObject("space").isEmpty()) {
            throw new BadInputException("tune.space is empty: map setting keys to lists of values or to ranges {min, max}");
        }
        metric = tune.getString("metric");
        String mode = tune.getString("mode");
        if (!mode.equals("max") && !mode.equals("min")) {
            throw new BadInputException("tune.mode must be max or min, got '" + mode + "'");
        }
        maximize = mode.equals("max");
        maxRounds = tune.getInt("max-rounds") > 0 ? tune.getInt("max-rounds") : base.config().getInt("train.rounds");
        minRounds = tune.getInt("min-rounds");
        eta = tune.getInt("eta");
        if (minRounds < 1 || minRounds > maxRounds) {
            throw new BadInputException("tune.min-rounds must be in [1, max-rounds = " + maxRounds + "], got " + minRounds);
        }
        if (eta < 2) {
            throw new BadInputException("tune.eta must be at least 2, got " + eta);
        }
    }

    /** The space's axes in key order: a list of values, or a range. */
    private Map<String, Object> axes() {
        Map<String, Object> axes = new TreeMap<>();
        for (Map.Entry<String, ConfigValue> axis : tune.getObject("space").entrySet()) {
            String key = axis.getKey().replace("\"", "");
            if (!base.config().hasPath(key)) {
                throw new BadInputException("tune.space names '" + key + "', which is not a setting");
            }
            Object value = axis.getValue().unwrapped();
            if (value instanceof List<?> list && !list.isEmpty()) {
                axes.put(key, List.copyOf(list));
            } else if (value instanceof Map<?, ?>) {
                Config range = ((com.typesafe.config.ConfigObject) axis.getValue()).toConfig();
                double min = range.getDouble("min");
                double max = range.getDouble("max");
                boolean log = range.hasPath("log") && range.getBoolean("log");
                if (!(min < max) || (log && min <= 0)) {
                    throw new BadInputException("tune.space." + key + ": a range needs min < max" + (log ? " and min > 0 (log)" : "")
                            + ", got [" + min + ", " + max + "]");
                }
                axes.put(key, new Range(min, max, log, range.hasPath("int") && range.getBoolean("int")));
            } else {
                throw new BadInputException("tune.space." + key + " must be a non-empty list of values or a range {min, max, log, int}");
            }
        }
        return axes;
    }

    private record Range(double min, double max, boolean log, boolean integer) {
        Object draw(SplittableRandom random) {
            double u = random.nextDouble();
            double x = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
            return integer ? (Object) Math.round(x) : (Object) x;
        }
    }

    /** {@code count} configurations drawn for bracket {@code bracket}, or the grid's points when count is 0. */
    List<Trial> trials(int bracket, int count) {
        Map<String, Object> axes = axes();
        List<Map<String, Object>> settings = new ArrayList<>();
        if (count == 0) {
            settings.add(new LinkedHashMap<>());
            for (Map.Entry<String, Object> axis : axes.entrySet()) {
                if (!(axis.getValue() instanceof List<?> values)) {
                    throw new BadInputException("tune.trials = 0 searches the grid of tune.space, but " + axis.getKey() + " is a range");
                }
                List<Map<String, Object>> grown = new ArrayList<>();
                for (Map<String, Object> point : settings) {
                    for (Object value : values) {
                        Map<String, Object> more = new LinkedHashMap<>(point);
                        more.put(axis.getKey(), value);
                        grown.add(more);
                    }
                }
                settings = grown;
            }
        } else {
            for (int t = 0; t < count; t++) {
                SplittableRandom random = new SplittableRandom(Seeds.mix(tune.getLong("seed"), bracket, t));
                Map<String, Object> point = new LinkedHashMap<>();
                for (Map.Entry<String, Object> axis : axes.entrySet()) {
                    point.put(axis.getKey(), axis.getValue() instanceof Range range ? range.draw(random)
                            : ((List<?>) axis.getValue()).get(random.nextInt(((List<?>) axis.getValue()).size())));
                }
                settings.add(point);
            }
        }
        List<Trial> trials = new ArrayList<>();
        for (int t = 0; t < settings.size(); t++) {
            trials.add(new Trial(String.format(Locale.ROOT, "b%d-t%02d", bracket, t), bracket, settings.get(t)));
        }
        return trials;
    }

    /** The brackets (their index, trials and starting rounds), as the scheduler plans them. */
    List<int[]> brackets() {
        String scheduler = tune.getString("scheduler");
        int trials = tune.getInt("trials");
        int levels = (int) Math.floor(Math.log((double) maxRounds / minRounds) / Math.log(eta) + 1e-9); // s_max
        return switch (scheduler) {
            case "none" -> List.<int[]>of(new int[] {0, trials, maxRounds});
            case "successive-halving" -> List.<int[]>of(new int[] {levels, trials, minRounds});
            case "hyperband" -> {
                List<int[]> brackets = new ArrayList<>();
                for (int s = levels; s >= 0; s--) {
                    int n = (int) Math.ceil((double) (levels + 1) / (s + 1) * Math.pow(eta, s));
                    brackets.add(new int[] {s, n, Math.max(1, (int) Math.round(maxRounds / Math.pow(eta, s)))}); // n drawn, whatever trials says
                }
                yield brackets;
            }
            default -> throw new BadInputException("tune.scheduler must be none, successive-halving or hyperband, got '" + scheduler + "'");
        };
    }

    /** Runs the search; writes {@code results.md}, {@code results.csv} and {@code best.conf} into tune.dir. */
    public Result run(SparkSession spark, Consumer<String> log) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path dir = new Path(tune.getString("dir"));
        Map<Trial, Outcome> outcomes = new LinkedHashMap<>();
        for (int[] bracket : brackets()) {
            List<Trial> alive = trials(bracket[0], bracket[1]);
            int rounds = bracket[2];
            while (true) {
                List<Outcome> rung = new ArrayList<>();
                for (Trial trial : alive) {
                    Outcome outcome = train(spark, trial, new Path(dir, trial.name()), rounds, log);
                    outcomes.put(trial, outcome);
                    rung.add(outcome);
                }
                if (rounds >= maxRounds) {
                    break;
                }
                rung.sort(ranking());
                int keep = Math.max(1, rung.size() / eta);
                alive = rung.subList(0, keep).stream().map(Outcome::trial).toList();
                log.accept(String.format(Locale.ROOT, "tune: bracket %d keeps %s after %d rounds", bracket[0],
                        alive.stream().map(Trial::name).toList(), rounds));
                // the last rung trains to max-rounds: no rung between (rounds eta^2 would pass it)
                rounds = (long) rounds * eta * eta > maxRounds ? maxRounds : rounds * eta;
            }
        }
        List<Outcome> all = new ArrayList<>(outcomes.values());
        // the best of the trials that trained longest: a trial stopped early is not ranked against finished ones
        int longest = all.stream().mapToInt(Outcome::rounds).max().orElseThrow();
        Outcome best = all.stream().filter(o -> o.rounds() == longest).sorted(ranking()).findFirst().orElseThrow();
        long spent = all.stream().mapToLong(Outcome::rounds).sum();
        write(dir, all, best, spent, hadoop);
        log.accept(String.format(Locale.ROOT, "tune: best %s %s: %s %.4f after %d rounds; %d rounds trained in all; results in %s/results.md",
                best.trial().name(), best.trial().settings(), metric, best.metric(), best.rounds(), spent, dir));
        return new Result(all, best, spent);
    }

    private Comparator<Outcome> ranking() {
        Comparator<Outcome> byMetric = Comparator.comparingDouble(Outcome::metric);
        return (maximize ? byMetric.reversed() : byMetric).thenComparing(o -> o.trial().name());
    }

    /** Trains {@code trial} to {@code rounds}: from scratch, or on from its checkpoint when its folder holds fewer rounds. */
    private Outcome train(SparkSession spark, Trial trial, Path runDir, int rounds, Consumer<String> log) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Experiment.Trained trained;
        if (HadoopFiles.exists(new Path(runDir, "config.conf"), hadoop)) {
            log.accept("tune: " + trial.name() + " on to round " + rounds);
            trained = Experiment.resume(spark, runDir, List.of("train.rounds=" + rounds), line -> { });
        } else {
            log.accept("tune: " + trial.name() + " " + trial.settings() + " for " + rounds + " rounds");
            Experiment experiment = base.set("name", trial.name()).set("train.rounds", rounds);
            for (Map.Entry<String, Object> s : trial.settings().entrySet()) {
                experiment = experiment.set(s.getKey(), s.getValue());
            }
            trained = experiment.train(spark, runDir, line -> { });
        }
        List<RoundMetrics> metrics = trained.folder().metrics();
        RoundMetrics last = metrics.get(metrics.size() - 1);
        double value = value(last);
        log.accept(String.format(Locale.ROOT, "tune: %s round %d: %s %.4f (%.1f s training rounds, %.1f s outside them)", trial.name(), last.round(),
                metric, value, trained.trainingSeconds(), trained.outsideSeconds()));
        return new Outcome(trial, last.round(), value);
    }

    private double value(RoundMetrics row) {
        return switch (metric) {
            case "test_accuracy" -> row.testAccuracy();
            case "test_loss" -> row.testLoss();
            case "train_loss" -> row.trainLoss();
            default -> {
                Double v = row.extra().get(metric);
                if (v == null) {
                    throw new BadInputException("tune.metric '" + metric + "' is not a column of the trials' metrics " + row.extra().keySet());
                }
                yield v;
            }
        };
    }

    private void write(Path dir, List<Outcome> outcomes, Outcome best, long spent, Configuration hadoop) {
        List<String> keys = new ArrayList<>(axes().keySet());
        StringBuilder csv = new StringBuilder("trial,bracket," + String.join(",", keys) + ",rounds," + metric + "\n");
        StringBuilder md = new StringBuilder("| trial | bracket | " + String.join(" | ", keys) + " | rounds | " + metric + " |\n|---|---|");
        keys.forEach(k -> md.append("---|"));
        md.append("---|---|\n");
        for (Outcome o : outcomes) {
            List<String> values = keys.stream().map(k -> text(o.trial().settings().get(k))).toList();
            csv.append(o.trial().name()).append(',').append(o.trial().bracket()).append(',').append(String.join(",", values))
                    .append(',').append(o.rounds()).append(',').append(String.format(Locale.ROOT, "%.6f", o.metric())).append('\n');
            String name = o == best ? "**" + o.trial().name() + "**" : o.trial().name();
            md.append("| ").append(name).append(" | ").append(o.trial().bracket()).append(" | ").append(String.join(" | ", values))
                    .append(" | ").append(o.rounds()).append(" | ").append(String.format(Locale.ROOT, "%.4f", o.metric())).append(" |\n");
        }
        md.append(String.format(Locale.ROOT, "%nBest: %s (%s %.4f after %d rounds). Rounds trained in all: %d, against %d for every trial to %d rounds.%n",
                best.trial().name(), metric, best.metric(), best.rounds(), spent, (long) outcomes.size() * maxRounds, maxRounds));
        StringBuilder conf = new StringBuilder("# tune's best trial, " + best.trial().name() + ": " + metric + " "
                + String.format(Locale.ROOT, "%.6f", best.metric()) + " after " + best.rounds() + " rounds\nfedspark {\n");
        best.trial().settings().forEach((k, v) -> conf.append("  ").append(k).append(" = ").append(text(v)).append('\n'));
        conf.append("}\n");
        HadoopFiles.writeString(new Path(dir, "results.csv"), csv.toString(), hadoop);
        HadoopFiles.writeString(new Path(dir, "results.md"), md.toString(), hadoop);
        HadoopFiles.writeString(new Path(dir, "best.conf"), conf.toString(), hadoop);
    }

    private static String text(Object value) {
        return value instanceof Double d ? java.math.BigDecimal.valueOf(d).round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString()
                : String.valueOf(value);
    }
}
