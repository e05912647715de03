package fedspark.jobs;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import com.typesafe.config.Config;

import fedspark.data.BadInputException;
import fedspark.data.HadoopFiles;
import fedspark.engine.RoundMetrics;
import fedspark.engine.RunFolder;
import fedspark.engine.TrainSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs one experiment through fedspark and through the peer script (a plain PyTorch FedAvg loop) in the same sitting,
 * with the same data, split, model, C, E, B, lr and rounds, each as a process of its own; the peer on the same cores
 * as fedspark in each of its settings (one thread; a torch thread per core; a process per core, each training its
 * share of the round's clients); and prints the median seconds per round of each, the accuracy at the last round, the
 * whole experiment's wall time (process start to exit: start-up, data loading, evaluation included, what a
 * user waits for), and the ratios; beside them each round's floating-point work (the model's {@link
 * fedspark.models.TrainingFlops} an example, times the examples the round's clients hold, times E), the GFLOP/s each
 * system achieves, and which fraction that is of the machine's fp32 peak, measured by {@link Peak} before and after
 * fedspark's rounds (the higher of the two).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Seconds per round of an experiment in fedspark and in the PyTorch peer, run in the same sitting.")
final class Bench implements Callable<Integer> {

    @CommandLine.Mixin
    FedSpark.ExperimentOptions options;

    /** The project's PyTorch peer, relative to the installation (the folder holding bin/ and peers/), and in the jars. */
    static final String PEER = "peers/pytorch_fedavg.py";

    /** What a machine without the peer's interpreter or torch installs, the one line bench prints then. */
    static final String INSTALL = "apt-get install -y python3-torch libopenblas0-pthread";

    @Option(names = "--peer", paramLabel = "SCRIPT", description = "the peer script (default: " + PEER + " of this installation)")
    File peer;

    @Option(names = "--python", paramLabel = "PYTHON", description = "interpreter with torch (default: ${DEFAULT-VALUE})")
    String python = "/usr/bin/python3";

    /** How the peer uses the machine's cores. */
    enum PeerSetting {
        ONE_THREAD, THREADS, PROCESSES;

        /** The peer's --threads and --processes on a machine of {@code cores} cores. */
        List<String> arguments(int cores) {
            return switch (this) {
                case ONE_THREAD -> List.of("--threads", "1", "--processes", "1");
                case THREADS -> List.of("--threads", Integer.toString(cores), "--processes", "1");
                case PROCESSES -> List.of("--threads", "1", "--processes", Integer.toString(cores));
            };
        }

        String label(int cores) {
            return switch (this) {
                case ONE_THREAD -> "peer, 1 thread";
                case THREADS -> "peer, " + cores + " threads";
                case PROCESSES -> "peer, " + cores + " processes";
            };
        }
    }

    @Option(names = "--peer-settings", split = ",", paramLabel = "SETTING", converter = PeerSettingConverter.class,
            description = "the peer's settings, run in turn: one-thread, threads (a torch thread per core), processes (a process per core,"
                    + " each training its share of a round's clients, the parent averaging) (default: all three)")
    List<PeerSetting> peerSettings = List.of(PeerSetting.ONE_THREAD, PeerSetting.THREADS, PeerSetting.PROCESSES);

    static final class PeerSettingConverter implements CommandLine.ITypeConverter<PeerSetting> {
        @Override
        public PeerSetting convert(String value) {
            for (PeerSetting s : PeerSetting.values()) {
                if (s.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(value)) {
                    return s;
                }
            }
            throw new CommandLine.TypeConversionException("no peer setting " + value + " (one-thread, threads, processes)");
        }
    }

    @Option(names = "--dl4j-spark", description = "also run dl4j-spark's ParameterAveragingTrainingMaster (C = 1, averaging every E "
            + "local epochs) and fedspark with C = 1 for --dl4j-spark-rounds rounds (build peers/ first: mvn -DskipTests package)")
    boolean dl4jSpark;

    @Option(names = "--dl4j-spark-rounds", description = "rounds of the C = 1 rows (default: ${DEFAULT-VALUE})")
    int dl4jSparkRounds = 2;

    @Option(names = "--peers-dir", paramLabel = "DIR", description = "the built peers module (default: ${DEFAULT-VALUE})")
    File peersDir = new File("peers/target");

    @Option(names = "--peak-seconds", description = "timed seconds of each kernel of the fp32 peak, measured before and after fedspark's rounds"
            + " (default: ${DEFAULT-VALUE}; fedspark peak measures it alone)")
    double peakSeconds = 2;

    /**
     * Median seconds per round, accuracy at the last round and wall time from process start to exit of one system,
     * the median examples its rounds' clients hold (each trained E times a round; NaN when the system does not say),
     * and the sum of its rounds' seconds (so wall - that is the time outside the rounds' training: start-up, loading,
     * evaluation, writing).
     */
    record Result(String system, double medianSeconds, double lastAccuracy, int rounds, double wallSeconds, double medianExamples,
                  double roundsSeconds) {
        double outsideSeconds() {
            return wallSeconds - roundsSeconds;
        }
    }

    @Override
    public Integer call() throws Exception {
        Experiment experiment = options.load();
        List<String> peerCommand = peerCommand(experiment.config());
        checkPython(); // before anything runs: a machine without torch learns it at once
        List<Result> results = new ArrayList<>();
        // Both sides inherit it (bin/fedspark sets it on CPUs with AVX-512); say which kernels ran.
        FedSpark.say("OPENBLAS_CORETYPE=" + System.getenv().getOrDefault("OPENBLAS_CORETYPE", "(unset: OpenBLAS picks)"));
        if (ManagementFactory.getRuntimeMXBean().getInputArguments().stream().noneMatch(a -> a.startsWith("-XX:SharedArchiveFile"))) {
            FedSpark.say("no class archive yet (bin/fedspark's first run after a build writes it): fedspark starts slower in this"
                    + " run than a user's later runs; run bench again for the whole-experiment time");
        }
        // Data prepared and partitioned first, untimed, as the peer's timing starts with its own reading of the data files.
        int partitioned = run(fedsparkCommand("partition", List.of(), null), "fedspark partition");
        if (partitioned != 0) {
            throw new IllegalStateException("fedspark partition failed (exit " + partitioned + ")");
        }
        fedspark.models.TrainingFlops flops = experiment.partitionedModel().trainingFlops();
        FedSpark.say("work: " + flops.line());
        // The peak before fedspark runs and again after it, in this JVM (bin/fedspark's environment: one BLAS thread a
        // call); the fractions are of the higher of the two minutes.
        String threads = Peak.threadsWarning();
        if (threads != null) {
            FedSpark.say(threads);
        }
        int cores = Runtime.getRuntime().availableProcessors();
        List<Peak.Measured> peaks = Peak.measureAll(1024, cores, peakSeconds);
        peaks.forEach(m -> FedSpark.say(m.line()));
        // One thread's too, when the peer runs one: what its single thread could reach (on a shared machine, not always half).
        List<Peak.Measured> onePeaks = peerSettings.contains(PeerSetting.ONE_THREAD) && cores > 1 ? Peak.measureAll(1024, 1, peakSeconds) : List.of();
        onePeaks.forEach(m -> FedSpark.say(m.line()));
        int epochs = experiment.config().getInt("train.E"); // each client's examples E times a round
        results.add(runFedspark(List.of(), "fedspark"));
        if (dl4jSpark) {
            results.add(runFedspark(List.of("train.C=1.0", "train.rounds=" + dl4jSparkRounds), "fedspark, C=1"));
        }
        List<Peak.Measured> peaksAfter = Peak.measureAll(1024, cores, peakSeconds);
        List<Peak.Measured> onePeaksAfter = onePeaks.isEmpty() ? List.of() : Peak.measureAll(1024, 1, peakSeconds);
        peaksAfter.forEach(m -> FedSpark.say("after fedspark: " + m.line()));
        onePeaksAfter.forEach(m -> FedSpark.say("after fedspark: " + m.line()));
        if (dl4jSpark) {
            Experiment allClients = experiment.set("train.C", 1.0).set("train.rounds", dl4jSparkRounds);
            List<String> command = dl4jSparkCommand(allClients.config());
            FedSpark.say("dl4j-spark: " + String.join(" ", command));
            results.add(runPeer(command, "dl4j-spark, C=1"));
        }
        List<Result> peers = new ArrayList<>();
        for (PeerSetting setting : peerSettings) {
            List<String> command = new ArrayList<>(peerCommand);
            command.addAll(setting.arguments(cores));
            FedSpark.say(setting.label(cores) + ": " + String.join(" ", command));
            peers.add(runPeer(command, setting.label(cores)));
        }
        results.addAll(peers);
        FedSpark.say("");
        FedSpark.say("the peaks below: the higher of the measurements before and after fedspark's rounds");
        table(results, peers, flops, epochs, Peak.best(peaks, peaksAfter), onePeaks.isEmpty() ? null : Peak.best(onePeaks, onePeaksAfter))
                .forEach(FedSpark::say);
        return 0;
    }

    /**
     * The printed table: a row a system (median s/round, accuracy at the last round, rounds, wall s, MFLOP a round
     * = median examples x E x FLOP an example, GFLOP/s = MFLOP a round / median s/round), the ratio line (fedspark, the
     * first row, against the fastest of {@code peers}: by median s/round, and by wall time), and the line of the peak
     * and each system's fraction of it, with the one-thread peer's fraction of one thread's peak when {@code onePeak}
     * is given ("-" and the reason where the work is not counted).
     */
    static List<String> table(List<Result> results, List<Result> peers, fedspark.models.TrainingFlops flops, int epochs, Peak.Measured peak,
                              Peak.Measured onePeak) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "%-28s %16s %14s %7s %9s %10s %12s %9s", "system", "median s/round", "accuracy@last", "rounds",
                "wall s", "outside s", "MFLOP/round", "GFLOP/s"));
        for (Result r : results) {
            double work = roundFlops(r, flops, epochs);
            lines.add(String.format(Locale.ROOT, "%-28s %16.3f %14.4f %7d %9.1f %10.1f %12s %9s", r.system(), r.medianSeconds(), r.lastAccuracy(),
                    r.rounds(), r.wallSeconds(), r.outsideSeconds(), Double.isNaN(work) ? "-" : String.format(Locale.ROOT, "%.1f", work / 1e6),
                    Double.isNaN(work) ? "-" : String.format(Locale.ROOT, "%.2f", work / r.medianSeconds() / 1e9)));
        }
        Result ours = results.get(0);
        Result fastestRound = peers.stream().min(java.util.Comparator.comparingDouble(Result::medianSeconds)).orElseThrow();
        Result fastestWhole = peers.stream().min(java.util.Comparator.comparingDouble(Result::wallSeconds)).orElseThrow();
        lines.add(String.format(Locale.ROOT, "ratio fedspark/fastest peer: %.2f per round (%s), %.2f whole experiment (%s)",
                ours.medianSeconds() / fastestRound.medianSeconds(), fastestRound.system(), ours.wallSeconds() / fastestWhole.wallSeconds(),
                fastestWhole.system()));
        if (!flops.counted()) {
            lines.add("GFLOP/s not printed: " + flops.line());
        } else {
            lines.add(String.format(Locale.ROOT, "work: %.3f MFLOP a training example (forward, weight and input gradients of the dense,"
                    + " convolution and LSTM products), E=%d", flops.perExample() / 1e6, epochs));
            if (peak != null) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "fp32 peak %.1f GFLOP/s (%s sgemm, %d threads):", peak.gflops(),
                        peak.kernel() == Peak.Kernel.OPENBLAS ? "OpenBLAS" : "oneDNN", peak.threads()));
                String sep = " ";
                List<Result> systems = new ArrayList<>(List.of(ours));
                systems.addAll(peers);
                for (Result r : systems) {
                    double work = roundFlops(r, flops, epochs);
                    if (!Double.isNaN(work)) {
                        line.append(sep).append(String.format(Locale.ROOT, "%s %.1f%%", r.system(), 100 * work / r.medianSeconds() / 1e9 / peak.gflops()));
                        sep = ", ";
                    }
                }
                line.append(" of it");
                Result oneThread = peers.stream().filter(r -> r.system().equals(PeerSetting.ONE_THREAD.label(1))).findFirst().orElse(null);
                if (onePeak != null && oneThread != null && !Double.isNaN(roundFlops(oneThread, flops, epochs))) {
                    line.append(String.format(Locale.ROOT, "; %s: %.1f%% of one thread's peak, %.1f GFLOP/s (%s sgemm)", oneThread.system(),
                            100 * roundFlops(oneThread, flops, epochs) / oneThread.medianSeconds() / 1e9 / onePeak.gflops(), onePeak.gflops(),
                            onePeak.kernel() == Peak.Kernel.OPENBLAS ? "OpenBLAS" : "oneDNN"));
                }
                lines.add(line.toString());
            }
        }
        return lines;
    }

    /** The floating-point work of a system's median round: its median examples x E x FLOP an example; NaN when not known. */
    static double roundFlops(Result r, fedspark.models.TrainingFlops flops, int epochs) {
        return flops.counted() ? r.medianExamples() * epochs * flops.perExample() : Double.NaN;
    }

    /**
     * `fedspark COMMAND` on this command's experiment (with {@code sets} added) in a JVM of its own, started as this
     * one was: its JVM options, classpath and environment, which bin/fedspark gave it.
     */
    private List<String> fedsparkCommand(String command, List<String> sets, Path runDir) {
        List<String> line = new ArrayList<>();
        line.add(System.getProperty("java.home") + "/bin/java");
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!argument.startsWith("-XX:ArchiveClassesAtExit")) { // this JVM writes bin/fedspark's class archive: not the child too
                line.add(argument);
            }
        }
        line.addAll(List.of("-cp", System.getProperty("java.class.path"), FedSpark.class.getName(), command, options.conf.getPath()));
        for (String set : options.overrides) {
            line.addAll(List.of("--set", set));
        }
        for (String set : sets) {
            line.addAll(List.of("--set", set));
        }
        if (runDir != null) {
            line.addAll(List.of("--run-dir", runDir.toString()));
        }
        return line;
    }

    /** `fedspark train` as a user runs it, timed from process start to exit; the per-round figures from its metrics.csv. */
    private Result runFedspark(List<String> sets, String label) throws IOException, InterruptedException {
        Experiment experiment = options.load();
        Path runDir = new Path(experiment.config().getString("output.runs"), "bench-" + experiment.config().getString("name")
                + "-" + System.currentTimeMillis());
        long start = System.nanoTime();
        int exit = run(fedsparkCommand("train", sets, runDir), label);
        double wall = (System.nanoTime() - start) / 1e9;
        if (exit != 0) {
            throw new IllegalStateException(label + " failed (exit " + exit + ")");
        }
        Path csv = new Path(runDir, "metrics.csv");
        List<RoundMetrics> rows = RunFolder.parseMetricsCsv(HadoopFiles.readString(csv, new Configuration()), csv.toString());
        return new Result(label, median(rows.stream().mapToDouble(RoundMetrics::seconds).toArray()),
                rows.get(rows.size() - 1).testAccuracy(), rows.size(), wall, median(rows.stream().mapToDouble(RoundMetrics::samples).toArray()),
                rows.stream().mapToDouble(RoundMetrics::seconds).sum());
    }

    /** Runs {@code command}, its output lines prefixed with {@code label}; the exit code. */
    private static int run(List<String> command, String label) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                FedSpark.say(label + ": " + line);
            }
        }
        return process.waitFor();
    }

    /** The dl4j-spark peer as its own JVM, on the prepared training table, with this JVM's module openings. */
    List<String> dl4jSparkCommand(Config c) throws IOException {
        File jar = new File(peersDir, "fedspark-peers.jar");
        File classpath = new File(peersDir, "classpath.txt");
        if (!jar.isFile() || !classpath.isFile()) {
            throw new BadInputException("the dl4j-spark peer is not built: no " + jar + " or " + classpath + " (run: mvn -DskipTests package)");
        }
        if (!c.getString("partition.scheme").equals("iid")) {
            throw new BadInputException("the dl4j-spark peer splits IID only; partition.scheme is " + c.getString("partition.scheme"));
        }
        TrainSettings t = TrainSettings.fromConfig(c.getString("model"), c.getConfig("train"));
        if (t.batchSize() == TrainSettings.WHOLE_SHARD) {
            throw new BadInputException("the dl4j-spark peer needs a finite train.B");
        }
        List<String> command = new ArrayList<>();
        command.add(System.getProperty("java.home") + "/bin/java");
        command.add("-Xmx8g");
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.startsWith("--add-opens") || argument.startsWith("--add-exports") || argument.startsWith("-Dlog4j2.configurationFile")) {
                command.add(argument);
            }
        }
        command.addAll(List.of("-cp", jar.getPath() + File.pathSeparator + Files.readString(classpath.toPath()).trim(),
                "fedspark.peers.Dl4jSparkPeer", c.getString("data.prepared"), t.model(), c.getString("partition.clients"),
                Integer.toString(t.localEpochs()), Integer.toString(t.batchSize()), Double.toString(t.learningRate()),
                Integer.toString(t.rounds()), Long.toString(t.seed())));
        return command;
    }

    /**
     * The peer script: --peer, else peers/pytorch_fedavg.py of this installation (the folder bin/fedspark passes as
     * fedspark.home, else the one holding jobs/target/ this class was loaded from), else the copy the jars carry,
     * written to a temporary file (fedspark.jar alone, away from the source tree).
     */
    File peerScript() {
        if (peer != null) {
            if (!peer.isFile()) {
                throw new BadInputException("peer script not found: " + peer);
            }
            return peer;
        }
        for (File home : installations()) {
            File script = new File(home, PEER);
            if (script.isFile()) {
                return script;
            }
        }
        try (java.io.InputStream packaged = Bench.class.getResourceAsStream("/fedspark/" + PEER)) {
            if (packaged == null) {
                throw new BadInputException("the PyTorch peer is missing: no " + PEER + " beside bin/fedspark and none in the jar (set --peer)");
            }
            java.nio.file.Path copy = Files.createTempFile("fedspark-peer-", ".py");
            copy.toFile().deleteOnExit();
            Files.copy(packaged, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return copy.toFile();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Where an installation may be: fedspark.home (bin/fedspark sets it), the folder above jobs/target/ of this class's jar or classes. */
    static List<File> installations() {
        List<File> homes = new ArrayList<>();
        String home = System.getProperty("fedspark.home");
        if (home != null) {
            homes.add(new File(home));
        }
        try {
            File loadedFrom = new File(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            File target = loadedFrom.getParentFile(); // jobs/target/fedspark-jobs.jar or jobs/target/classes
            if (target != null && target.getParentFile() != null && target.getParentFile().getParentFile() != null) {
                homes.add(target.getParentFile().getParentFile());
            }
        } catch (java.net.URISyntaxException | RuntimeException e) {
            // no code source (an unusual class loader): fedspark.home or the packaged copy
        }
        return homes;
    }

    /** Stops, in one line saying what to install, unless the interpreter runs and imports torch. */
    void checkPython() {
        String problem;
        try {
            Process probe = new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            problem = probe.waitFor() == 0 ? null : python + " cannot import torch";
        } catch (IOException e) {
            problem = "no interpreter " + python;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (problem != null) {
            throw new BadInputException("the PyTorch peer needs Python 3 with torch: " + problem + "; install them with: " + INSTALL
                    + (python.equals("/usr/bin/python3") ? "" : " (or set --python)"));
        }
    }

    /** conf/models/cifar10-cnn.conf's layers: the peer's cifar-cnn (the built-in niid-cnn on 3x32x32). */
    static final String CIFAR_CNN = "[{ type = conv2d, filters = 6, kernel = 5 }, { type = max-pool, kernel = 2 },"
            + " { type = conv2d, filters = 16, kernel = 5 }, { type = max-pool, kernel = 2 }, { type = dense, units = 120 },"
            + " { type = dense, units = 84 }, { type = output }]";

    /** conf/models/shakespeare-lstm.conf's layers: the peer's shakespeare-lstm. */
    static final String SHAKESPEARE_LSTM = "[{ type = embedding, dim = 8 }, { type = lstm, units = 256 }, { type = lstm, units = 256 },"
            + " { type = output }]";

    List<String> peerCommand(Config c) {
        File script = peerScript();
        String format = c.getString("data.source.format");
        if (!format.equals("idx") && !format.equals("cifar10") && !format.equals("shakespeare")) {
            throw new BadInputException("the peer reads IDX files, CIFAR-10's binary batches and LEAF Shakespeare JSON only; data.source.format is "
                    + format);
        }
        String model = peerModel(c, format);
        String scheme = c.getString("partition.scheme");
        boolean natural = scheme.equals("natural") && format.equals("shakespeare") && c.getInt("partition.clients") == 0
                && c.getString("partition.column").equals("user");
        if (!scheme.equals("iid") && !scheme.equals("shards") && !natural) {
            throw new BadInputException("the peer has no partition scheme like " + scheme + (scheme.equals("natural")
                    ? " here (natural: LEAF Shakespeare's roles, one client each: partition.clients = 0, partition.column = user)" : ""));
        }
        TrainSettings t = TrainSettings.fromConfig(c.getValue("model").valueType() == com.typesafe.config.ConfigValueType.STRING
                ? c.getString("model") : "layers", c.getConfig("train"));
        if (!t.algorithm().equals("fedavg") || t.weightDecay() != 0) {
            throw new BadInputException("the peer runs FedAvg without weight decay only; train.algorithm is " + t.algorithm()
                    + ", train.weight-decay " + t.weightDecay());
        }
        return List.of(python, script.getPath(), "--format", format, "--data", c.getString("data.source.path"), "--model", model,
                "--split", scheme, "--K", c.getString("partition.clients"),
                "--shards-per-client", c.getString("partition.shards-per-client"),
                "--C", Double.toString(t.clientFraction()), "--E", Integer.toString(t.localEpochs()),
                "--B", t.batchSize() == TrainSettings.WHOLE_SHARD ? "0" : Integer.toString(t.batchSize()),
                "--lr", Double.toString(t.learningRate()), "--momentum", Double.toString(t.momentum()),
                "--rounds", Integer.toString(t.rounds()),
                "--seed", Long.toString(t.seed()));
    }

    /**
     * The peer's name for the experiment's model: on IDX files the built-in models it has; on CIFAR-10 the built-in
     * niid-cnn or conf/models/cifar10-cnn.conf's layers; on Shakespeare conf/models/shakespeare-lstm.conf's layers. A
     * definition (a .conf file, a list, an included block) is recognised by its layers, whatever its file is called.
     */
    static String peerModel(Config c, String format) {
        com.typesafe.config.ConfigValue value = c.getValue("model");
        String name = value.valueType() == com.typesafe.config.ConfigValueType.STRING ? (String) value.unwrapped() : null;
        String peerModel = null;
        if (format.equals("idx") && name != null) {
            peerModel = switch (name) {
                case "mcmahan-2nn" -> "2nn";
                case "mcmahan-cnn" -> "cnn";
                case "niid-cnn" -> "niid-cnn";
                default -> null;
            };
        } else if (format.equals("cifar10") && "niid-cnn".equals(name)) {
            peerModel = "cifar-cnn";
        } else if (!format.equals("idx") && (name == null || fedspark.models.ModelDefinitions.isReference(name))) {
            Object layers = layersOf(value);
            if (format.equals("cifar10") && layers != null && layers.equals(layers(CIFAR_CNN))) {
                peerModel = "cifar-cnn";
            } else if (format.equals("shakespeare") && layers != null && layers.equals(layers(SHAKESPEARE_LSTM))) {
                peerModel = "shakespeare-lstm";
            }
        }
        if (peerModel == null) {
            throw new BadInputException("the peer has no model like " + (name != null ? name : value.render(com.typesafe.config.ConfigRenderOptions.concise()))
                    + " on " + format + " data (IDX: mcmahan-2nn, mcmahan-cnn, niid-cnn; cifar10: niid-cnn or conf/models/cifar10-cnn.conf;"
                    + " shakespeare: conf/models/shakespeare-lstm.conf)");
        }
        return peerModel;
    }

    /** The layers of a model definition (a list, a { layers = [...] } block, or a .conf file holding one) as plain values, else null. */
    private static Object layersOf(com.typesafe.config.ConfigValue value) {
        switch (value.valueType()) {
            case LIST:
                return value.unwrapped();
            case OBJECT: {
                Config block = ((com.typesafe.config.ConfigObject) value).toConfig();
                return block.hasPath("layers") ? block.getValue("layers").unwrapped() : null;
            }
            case STRING: {
                String path = (String) value.unwrapped();
                if (!path.endsWith(".conf")) {
                    return null;
                }
                Path file = new Path(path);
                Configuration hadoop = new Configuration();
                if (!HadoopFiles.exists(file, hadoop)) {
                    throw new BadInputException("model: no such file " + path);
                }
                Config block = com.typesafe.config.ConfigFactory.parseString(new String(HadoopFiles.readBytes(file, hadoop), StandardCharsets.UTF_8))
                        .resolve();
                return block.hasPath("layers") ? block.getValue("layers").unwrapped() : null;
            }
            default:
                return null;
        }
    }

    private static Object layers(String list) {
        return com.typesafe.config.ConfigFactory.parseString("layers = " + list).getValue("layers").unwrapped();
    }

    static Result runPeer(List<String> command, String system) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().put("OMP_NUM_THREADS", "1");
        long start = System.nanoTime();
        Process process = builder.start();
        List<double[]> rows = new ArrayList<>();
        int accuracy = -1;
        int seconds = -1;
        int examples = -1; // the examples the round's clients hold: the PyTorch peer's examples, dl4j-spark's samples
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                FedSpark.say(system + ": " + line);
                List<String> f = List.of(line.split(","));
                if (f.contains("test_accuracy") && f.contains("seconds")) { // the header: round,...,test_accuracy,seconds
                    accuracy = f.indexOf("test_accuracy");
                    seconds = f.indexOf("seconds");
                    examples = f.contains("examples") ? f.indexOf("examples") : f.indexOf("samples");
                } else if (accuracy >= 0 && !line.isEmpty() && Character.isDigit(line.charAt(0))) {
                    rows.add(new double[] {Double.parseDouble(f.get(accuracy)), Double.parseDouble(f.get(seconds)),
                            examples >= 0 ? Double.parseDouble(f.get(examples)) : Double.NaN});
                }
            }
        }
        int exit = process.waitFor();
        double wall = (System.nanoTime() - start) / 1e9;
        if (exit != 0 || rows.isEmpty()) {
            throw new IllegalStateException(system + " failed (exit " + exit + ", " + rows.size() + " rounds): " + String.join(" ", command));
        }
        return new Result(system, median(rows.stream().mapToDouble(r -> r[1]).toArray()),
                rows.get(rows.size() - 1)[0], rows.size(), wall, median(rows.stream().mapToDouble(r -> r[2]).toArray()),
                rows.stream().mapToDouble(r -> r[1]).sum());
    }

    static double median(double[] values) {
        return new org.apache.commons.math3.stat.descriptive.rank.Median().evaluate(values);
    }
}
