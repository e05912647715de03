package fedspark.jobs;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

import fedspark.data.BadInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The command line: {@code fedspark <prepare|partition|train|sweep|tune|resume|bench|peak|step|driver-scale|results|privacy|report|settings> ...}. */
@Command(name = "fedspark", mixinStandardHelpOptions = true, version = "fedspark 0.1.0",
        description = "Federated-learning experiments on Apache Spark.",
        subcommands = {FedSpark.Prepare.class, FedSpark.Partition.class, FedSpark.Train.class, FedSpark.SweepCommand.class, FedSpark.TuneCommand.class, FedSpark.Resume.class, Bench.class, Peak.class, StepTime.class, DriverScale.class,
                ResultsTable.class, PrivacyCommand.class, Report.class, FedSpark.Settings.class})
public final class FedSpark implements Runnable {

    /** The options every subcommand takes: the experiment file and overrides. */
    static class ExperimentOptions {
        @Parameters(index = "0", paramLabel = "CONF", description = "experiment configuration (HOCON), e.g. conf/quickstart.conf")
        File conf;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "override a setting, e.g. --set train.rounds=5 (repeatable)")
        List<String> overrides = new ArrayList<>();

        Experiment load() {
            return Experiment.load(conf, overrides);
        }

        /** Runs {@code action} on the experiment with a Spark session of its own, stopped afterwards. */
        void run(java.util.function.BiConsumer<Experiment, SparkSession> action) {
            Experiment experiment = load();
            SparkSession spark = experiment.spark();
            try {
                action.accept(experiment, spark);
            } finally {
                spark.stop(); // not try-with-resources: Spark 4's close() declares IOException, 3.5's does not
            }
        }
    }

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    @Command(name = "prepare", mixinStandardHelpOptions = true,
            description = "Read the data source into canonical Parquet tables (label int, features array<float>).")
    static final class Prepare implements Callable<Integer> {
        @CommandLine.Mixin
        ExperimentOptions options;

        @Override
        public Integer call() {
            options.run((experiment, spark) -> experiment.prepare(spark, FedSpark::say));
            return 0;
        }
    }

    @Command(name = "partition", mixinStandardHelpOptions = true,
            description = "Assign every training example to a client and write the examples sorted by client, with a client index and statistics.")
    static final class Partition implements Callable<Integer> {
        @CommandLine.Mixin
        ExperimentOptions options;

        @Override
        public Integer call() {
            options.run((experiment, spark) -> experiment.partition(spark, FedSpark::say));
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Run a federated experiment (preparing and partitioning the data first if needed).")
    static final class Train implements Callable<Integer> {
        @CommandLine.Mixin
        ExperimentOptions options;

        @Option(names = "--run-dir", paramLabel = "DIR", description = "run folder (default: <output.runs>/<run name>-<timestamp>)")
        String runDir;

        @Option(names = "--name", paramLabel = "NAME", description = "the run's name (default: the experiment's name, the algorithm and the "
                + "settings --set changed, e.g. quickstart-scaffold-scheme=dirichlet-beta=0.1)")
        String name;

        @Override
        public Integer call() {
            Experiment loaded = options.load();
            Experiment experiment = name == null ? loaded : loaded.named(name);
            SparkSession spark = experiment.spark();
            try {
                say("done: " + experiment.train(spark, runDir == null ? null : new Path(runDir), FedSpark::say).folder().root());
            } finally {
                spark.stop();
            }
            return 0;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Go on with a stopped run from its last checkpoint, with the configuration it was started with.")
    static final class Resume implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "RUN_DIR", description = "the stopped run's folder")
        String runDir;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "override a setting, e.g. --set train.rounds=50 (repeatable)")
        List<String> overrides = new ArrayList<>();

        @Override
        public Integer call() {
            Path root = new Path(runDir);
            Experiment saved = Experiment.savedIn(root, new Configuration()); // before any Spark session
            SparkSession spark = saved.spark();
            try {
                Experiment.Trained trained = Experiment.resume(spark, root, overrides, FedSpark::say);
                say("done: " + trained.folder().root());
            } finally {
                spark.stop();
            }
            return 0;
        }
    }

    @Command(name = "sweep", mixinStandardHelpOptions = true,
            description = "Run every point of sweep.axes (skipping finished ones) and write the results table and curves.")
    static final class SweepCommand implements Callable<Integer> {
        @CommandLine.Mixin
        ExperimentOptions options;

        @Override
        public Integer call() {
            options.run((experiment, spark) -> new Sweep(experiment).run(spark, FedSpark::say));
            return 0;
        }
    }

    @Command(name = "tune", mixinStandardHelpOptions = true,
            description = "Search tune.space for the best settings (successive halving or Hyperband continue promising trials from their checkpoints).")
    static final class TuneCommand implements Callable<Integer> {
        @CommandLine.Mixin
        ExperimentOptions options;

        @Override
        public Integer call() {
            options.run((experiment, spark) -> new Tune(experiment).run(spark, FedSpark::say));
            return 0;
        }
    }

    @Command(name = "settings", mixinStandardHelpOptions = true,
            description = "List every setting an experiment may name, with its default and what it does (from reference.conf).")
    static final class Settings implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "PREFIX", description = "only keys starting with this, e.g. train or train.privacy")
        String prefix;

        @Override
        public Integer call() {
            List<KnownSettings.Setting> all = KnownSettings.settings();
            List<KnownSettings.Setting> shown = all.stream().filter(s -> prefix == null || s.key().equals(prefix)
                    || s.key().startsWith(prefix.endsWith(".") ? prefix : prefix + ".")).toList();
            if (shown.isEmpty()) {
                java.util.Set<String> prefixes = new java.util.LinkedHashSet<>(); // every key and the blocks it is in
                for (KnownSettings.Setting s : all) {
                    for (int dot = s.key().indexOf('.'); dot > 0; dot = s.key().indexOf('.', dot + 1)) {
                        prefixes.add(s.key().substring(0, dot));
                    }
                    prefixes.add(s.key());
                }
                throw new BadInputException("no setting starts with '" + prefix + "'; closest: '"
                        + KnownSettings.closest(prefix, new ArrayList<>(prefixes)) + "'");
            }
            int width = shown.stream().mapToInt(s -> s.key().length() + s.value().length() + 3).max().orElse(0);
            for (KnownSettings.Setting s : shown) {
                String assignment = s.key() + " = " + s.value();
                say(s.doc().isEmpty() ? assignment : assignment + " ".repeat(width - assignment.length()) + "  # " + s.doc());
            }
            return 0;
        }
    }

    /** What train --help lists under the options: where the settings are, and the algorithms, models and schemes by name. */
    static String trainFooter() {
        return String.join("%n",
                "",
                "Every setting, its default and what it does: fedspark settings [PREFIX] (e.g. fedspark settings train).",
                "Algorithms (train.algorithm): " + String.join(", ", fedspark.engine.strategy.Strategies.names()),
                "Models (model): " + String.join(", ", fedspark.models.Models.names()),
                "Partition schemes (partition.scheme): " + fedspark.partition.Partitioners.SCHEMES);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Stack traces of bad input, and Spark's reports of failed tasks, are printed only with --verbose. */
    static boolean verbose;

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "print the stack trace of bad input, and Spark's reports of failed tasks")
    void setVerbose(boolean on) {
        verbose = on;
        if (on) {
            for (String logger : List.of("org.apache.spark.executor.Executor", "org.apache.spark.scheduler.TaskSetManager")) {
                org.apache.logging.log4j.core.config.Configurator.setLevel(logger, org.apache.logging.log4j.Level.WARN);
            }
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The user's mistake behind an exception, if it is one (Spark wraps what a task throws). */
    static Throwable badInput(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BadInputException || t instanceof IllegalArgumentException || t instanceof com.typesafe.config.ConfigException
                    || t instanceof Experiment.RunStopped) {
                return t;
            }
        }
        return null;
    }

    public static void main(String[] args) {
        int code = commandLine().execute(args);
        // In YARN cluster mode main runs in a thread of Spark's ApplicationMaster (in a YARN container), which counts
        // an exit before main returns as a failed attempt and starts another: there a success returns.
        boolean yarnContainer = System.getProperty("spark.yarn.app.container.log.dir") != null;
        if (code != 0 || !yarnContainer) {
            System.exit(code);
        }
    }

    /** The command line, with bad input reported as one clear line and exit code 2. */
    public static CommandLine commandLine() {
        verbose = false;
        CommandLine cli = new CommandLine(new FedSpark());
        cli.getSubcommands().get("train").getCommandSpec().usageMessage().footer(trainFooter());
        // Bad input is the user's to fix: one clear line, no stack trace.
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            Throwable bad = badInput(e);
            if (bad == null) {
                throw e;
            }
            line.getErr().println("fedspark: " + bad.getMessage());
            if (verbose) {
                e.printStackTrace(line.getErr());
            }
            return 2;
        });
        return cli;
    }
}
