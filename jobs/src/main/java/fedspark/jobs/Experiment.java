package fedspark.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.xxhash64;

import java.io.File;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;

import fedspark.data.BadInputException;
import fedspark.data.CanonicalTable;
import fedspark.data.ClientIndex;
import fedspark.data.ClientLayout;
import fedspark.data.ClientShard;
import fedspark.data.HadoopFiles;
import fedspark.data.DatasetInfo;
import fedspark.data.CsvSource;
import fedspark.data.LeafSource;
import fedspark.data.MnistSource;
import fedspark.data.SyntheticSource;
import fedspark.engine.ClientShardRDD;
import fedspark.engine.evaluation.ClientEvaluation;
import fedspark.engine.evaluation.Evaluator;
import fedspark.engine.FederatedRun;
import fedspark.engine.ModelSpec;
import fedspark.engine.PrivacyAudit;
import fedspark.engine.RoundMetrics;
import fedspark.engine.RunFolder;
import fedspark.engine.ShardCache;
import fedspark.engine.state.ClientStateStore;
import fedspark.engine.TrainSettings;
import fedspark.engine.strategy.Strategies;
import fedspark.engine.strategy.Strategy;
import fedspark.models.InputShape;
import fedspark.models.ModelDefinitions;
import fedspark.partition.PartitionInfo;
import fedspark.partition.PartitionWriter;
import fedspark.partition.Partitioner;
import fedspark.partition.Partitioners;
import fedspark.partition.stats.PartitionPlots;
import fedspark.partition.stats.PartitionStatistics;

/**
 * One experiment configuration and its three stages: prepare (source to canonical Parquet), partition
 * (canonical table to Parquet files sorted by client, with a client index) and train. Each stage reuses what an earlier one wrote.
 */
public final class Experiment {

    private final Config config; // the resolved `fedspark` block

    private ClientIndex clientIndex; // the partitioning's, read once (train checks the strategy, then runs it)

    // A new run folder's name before its timestamp (what ran: load names it), or null: the name and the algorithm.
    private final String label;

    // The examples of fromDataFrame (data.source.format = dataframe), or null.
    private final DataFrames frames;

    /** A DataFrame source: its training and test examples and a fingerprint of their rows. */
    private record DataFrames(Dataset<Row> train, Dataset<Row> test, String fingerprint) {
    }

    public Experiment(Config config) {
        this(config, null, null);
    }

    private Experiment(Config config, String label, DataFrames frames) {
        this.config = config;
        this.label = label;
        this.frames = frames;
    }

    /**
     * The default experiment (the quickstart's settings; {@link #set} changes them) on the examples of two DataFrames,
     * read as data.source.format = table reads a table: the label in {@code labelColumn} (integers, or strings indexed
     * in sorted order), the natural id in {@code idColumn} ("" for none), the features one array or ML Vector column or
     * numeric columns (data.source.feature-columns names them; [] takes every other column). The prepared tables go to
     * data/dataframe-FINGERPRINT, a hash of both frames' rows (one pass over each, now): the same examples are prepared
     * once, and other examples never reuse them.
     */
    public static Experiment fromDataFrame(Dataset<Row> train, Dataset<Row> test, String labelColumn, String idColumn) {
        String fingerprint = fingerprint(train, test);
        Config config = defaults().config.withValue("data.source.format", ConfigValueFactory.fromAnyRef("dataframe"))
                .withValue("data.source.label-column", ConfigValueFactory.fromAnyRef(labelColumn))
                .withValue("data.source.id-column", ConfigValueFactory.fromAnyRef(idColumn))
                .withValue("data.prepared", ConfigValueFactory.fromAnyRef("data/dataframe-" + fingerprint.substring(0, 16)));
        return new Experiment(config, null, new DataFrames(train, test, fingerprint));
    }

    /** SHA-256 over both frames' schemas, row counts and the sum of their rows' 64-bit hashes (row order does not count). */
    private static String fingerprint(Dataset<Row> train, Dataset<Row> test) {
        StringBuilder text = new StringBuilder();
        for (Dataset<Row> frame : List.of(train, test)) {
            Column[] all = java.util.Arrays.stream(frame.columns()).map(c -> col("`" + c + "`")).toArray(Column[]::new);
            Row row = frame.select(xxhash64(all).cast("decimal(38,0)").as("h")).agg(count(lit(1)), sum("h")).first();
            text.append(frame.schema().catalogString()).append(' ').append(row.getLong(0)).append(' ').append(row.get(1)).append('\n');
        }
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads an experiment file, applies {@code key=value} overrides (keys relative to fedspark) over it and the defaults. */
    public static Experiment load(File file, List<String> overrides) {
        if (!file.isFile()) {
            throw new BadInputException("missing configuration file: " + file);
        }
        Config parsed = ConfigFactory.parseFile(file);
        KnownSettings.check(parsed, file.toString());
        Config resolved = withOverrides(parsed, file.toString(), overrides).getConfig("fedspark");
        if (overrides.isEmpty()) {
            return new Experiment(resolved, runLabel(resolved, List.of()), null);
        }
        Config asFiled = withOverrides(parsed, file.toString(), List.of()).getConfig("fedspark");
        List<String> changed = new java.util.ArrayList<>();
        for (String setting : overrides) {
            String key = setting.substring(0, setting.indexOf('=')).trim();
            if (!changed.contains(key) && (!asFiled.hasPathOrNull(key) || !resolved.hasPathOrNull(key)
                    || !asFiled.getValue(key).unwrapped().equals(resolved.getValue(key).unwrapped()))) {
                changed.add(key);
            }
        }
        return new Experiment(resolved, runLabel(resolved, changed), null);
    }

    /** Settings that say nothing about what ran: where it ran and where it wrote. */
    private static final List<String> NOT_IN_RUN_NAMES = List.of("name", "train.algorithm", "output", "spark", "data.prepared", "sweep", "tune");

    /**
     * A run's name, before its timestamp: the experiment's name, its algorithm (unless the name says it already) and
     * {@code changed}, the settings the command line changed from the experiment file, as {@code last-part=value}
     * (the whole key when two changed keys end alike): {@code quickstart-scaffold-scheme=dirichlet-beta=0.1}.
     */
    static String runLabel(Config resolved, List<String> changed) {
        String name = resolved.getString("name");
        String algorithm = resolved.getString("train.algorithm");
        StringBuilder label = new StringBuilder(name);
        if (!name.matches("(.*[-_.])?" + java.util.regex.Pattern.quote(algorithm) + "([-_.].*)?")) {
            label.append('-').append(algorithm);
        }
        List<String> shown = changed.stream().filter(key -> NOT_IN_RUN_NAMES.stream()
                .noneMatch(skip -> key.equals(skip) || key.startsWith(skip + "."))).toList();
        for (String key : shown) {
            String last = shortName(key);
            boolean clash = shown.stream().filter(other -> shortName(other).equals(last)).count() > 1;
            Object value = resolved.hasPathOrNull(key) && !resolved.getIsNull(key) ? resolved.getValue(key).unwrapped() : "null";
            String text = value instanceof List<?> list ? list.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","))
                    : String.valueOf(value);
            label.append('-').append(clash ? key.replace("\"", "") : last).append('=').append(text);
        }
        String safe = label.toString().replaceAll("[^A-Za-z0-9._=,+-]", "_");
        return safe.length() <= 120 ? safe : safe.substring(0, 120);
    }

    /** A key's last part, or for an on/off switch ({@code secure-aggregation.enabled}) its block's name. */
    private static String shortName(String key) {
        String[] parts = key.replace("\"", "").split("\\.");
        String last = parts[parts.length - 1];
        return last.equals("enabled") && parts.length > 1 ? parts[parts.length - 2] : last;
    }

    /** This experiment, its runs named {@code name} (folders {@code <output.runs>/<name>-<timestamp>}), as `train --name` asks. */
    public Experiment named(String name) {
        if (name.isBlank() || !name.matches("[A-Za-z0-9._=,+-]+")) {
            throw new BadInputException("--name takes letters, digits and . _ = , + - only, got '" + name + "'");
        }
        return new Experiment(config.withValue("name", ConfigValueFactory.fromAnyRef(name)), name, frames);
    }

    /** The name a new run folder of this experiment gets before its timestamp. */
    public String runLabel() {
        return label != null ? label : runLabel(config, List.of());
    }

    /**
     * {@code key=value} overrides (keys relative to fedspark) over {@code base} (read from {@code source}) over the
     * defaults, resolved; every value the overrides and the base set checked against its default's type.
     */
    private static Config withOverrides(Config base, String source, List<String> overrides) {
        Config override = ConfigFactory.empty();
        Map<String, String> setBy = new java.util.LinkedHashMap<>();
        for (String setting : overrides) {
            int eq = setting.indexOf('=');
            if (eq <= 0) {
                throw new BadInputException("--set takes key=value, got '" + setting + "'");
            }
            Config one;
            try {
                one = ConfigFactory.parseString("fedspark." + setting.substring(0, eq).trim() + " = " + setting.substring(eq + 1).trim());
            } catch (com.typesafe.config.ConfigException.Parse e) {
                throw new BadInputException("--set " + setting + ": not a HOCON key = value (" + e.getMessage() + ")");
            }
            KnownSettings.check(one, "--set " + setting);
            KnownSettings.keysOf(one).forEach(key -> setBy.put(key, "--set " + setting));
            override = one.withFallback(override);
        }
        Config resolved = override.withFallback(base).withFallback(ConfigFactory.defaultReference()).resolve();
        setBy.forEach((key, setting) -> KnownSettings.checkType(resolved, key, setting));
        for (String key : KnownSettings.keysOf(base)) {
            if (!setBy.containsKey(key)) {
                KnownSettings.checkType(resolved, key, source);
            }
        }
        return resolved;
    }

    /** The defaults of every setting (jobs' reference.conf): the quickstart experiment. */
    public static Experiment defaults() {
        return new Experiment(ConfigFactory.defaultReference().resolve().getConfig("fedspark"));
    }

    /** Reads an experiment file (the API's entry point: {@code Experiment.load("conf/quickstart.conf")}). */
    public static Experiment load(String file) {
        return load(new File(file), List.of());
    }

    /** This experiment with one setting changed (key relative to fedspark), e.g. {@code set("train.rounds", 5)}. */
    public Experiment set(String key, Object value) {
        KnownSettings.checkKey(key, KnownSettings.known(), "set(\"" + key + "\", ...)");
        return new Experiment(config.withValue(key, ConfigValueFactory.fromAnyRef(value)), null, frames);
    }

    public Config config() {
        return config;
    }

    public String render() {
        return config.atPath("fedspark").root().render(ConfigRenderOptions.defaults().setOriginComments(false));
    }

    /** A Spark session for this experiment: the configured master unless one is set already (spark-submit). */
    public SparkSession spark() {
        SparkSession.Builder builder = SparkSession.builder().appName("fedspark " + config.getString("name"));
        for (Map.Entry<String, ConfigValue> e : config.getConfig("spark.conf").entrySet()) {
            builder.config(e.getKey().replace("\"", ""), e.getValue().unwrapped().toString());
        }
        if (System.getProperty("spark.master") == null) {
            builder.master(config.getString("spark.master"));
        }
        // The kernel settings the driver runs with (bin/fedspark's defaults, a user's DNNL_MAX_CPU_ISA) reach executors a
        // worker launches, unless the experiment sets its own: other kernels sum in another order, so runs would differ
        // from local mode, and more than one BLAS thread per task oversubscribes cores Spark already fills with tasks.
        for (String variable : List.of("OPENBLAS_CORETYPE", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS")) {
            String value = System.getenv(variable);
            if (value != null && !config.getConfig("spark.conf").root().containsKey("spark.executorEnv." + variable)) {
                builder.config("spark.executorEnv." + variable, value);
            }
        }
        // Executors load ND4J's backend when they start, not beside their first tasks (ExecutorWarmUp says why); the
        // experiment's and spark-submit's own plugins are kept.
        Object ownPlugins = config.getConfig("spark.conf").root().containsKey("spark.plugins")
                ? config.getConfig("spark.conf").root().get("spark.plugins").unwrapped() : System.getProperty("spark.plugins");
        List<String> plugins = new ArrayList<>();
        for (String plugin : ownPlugins == null ? new String[0] : ownPlugins.toString().split(",")) {
            if (!plugin.isBlank()) {
                plugins.add(plugin.strip());
            }
        }
        if (!plugins.contains(fedspark.engine.ExecutorWarmUp.class.getName())) {
            plugins.add(fedspark.engine.ExecutorWarmUp.class.getName());
        }
        builder.config("spark.plugins", String.join(",", plugins));
        // Logging starts here, before the warm-up thread: Spark's start and Deeplearning4j's first logger would otherwise
        // set up log4j on two threads at once, and in about half the runs log4j printed a stack trace (its JMX bean
        // registered twice).
        org.apache.logging.log4j.LogManager.getContext(false);
        warmUpModels();
        return builder.getOrCreate();
    }

    /**
     * Loads ND4J's native backend, then Deeplearning4j's network classes, on a thread of their own ({@link #warmUp});
     * the second part runs while Spark starts, the second core otherwise idle then. A failure is left to the first
     * model built, which reports it.
     */
    private static void warmUpModels() {
        org.nd4j.linalg.api.ndarray.INDArray[] input = new org.nd4j.linalg.api.ndarray.INDArray[1];
        warmUp(() -> input[0] = org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, 784),
                () -> fedspark.models.Models.network("mcmahan-2nn", fedspark.models.InputShape.MNIST, 10, 0L, 0.1).output(input[0]));
    }

    /**
     * Runs {@code backend} then {@code rest} on a daemon thread, "fedspark-warm-up", and returns that thread once
     * {@code backend} has ended, with or without a failure (failures are dropped). Why wait: ND4J's start looks symbols up through JavaCPP's
     * Loader.addressof, which calls dlopen from inside glibc's dl_iterate_phdr, and a dlopen of a new library on
     * another thread meanwhile (Spark's start loads libjaas, libextnet, snappy's and lz4's) takes glibc's two loader
     * locks in the other order: both threads wait for ever (a `train` hung so at its start here, 2026-12-07).
     */
    static Thread warmUp(Runnable backend, Runnable rest) {
        java.util.concurrent.CountDownLatch backendDone = new java.util.concurrent.CountDownLatch(1);
        Thread thread = new Thread(() -> {
            try {
                backend.run();
                backendDone.countDown();
                rest.run();
            } catch (RuntimeException | LinkageError e) {
                // the first model built reports it
            } finally {
                backendDone.countDown();
            }
        }, "fedspark-warm-up");
        thread.setDaemon(true);
        thread.start();
        boolean interrupted = false;
        while (true) {
            try {
                backendDone.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return thread;
    }

    public Path preparedTable(String split) {
        return new Path(config.getString("data.prepared"), split);
    }

    public Partitioner partitioner() {
        return Partitioners.fromConfig(config.getConfig("partition"));
    }

    /** The partitioning's folder: the scheme's id, and the local test fraction when clients keep local test sets. */
    public Path partitionedData() {
        double localTest = config.getDouble("partition.local-test-fraction");
        String id = partitioner().id() + (localTest > 0 ? "-test" + localTest : "");
        return new Path(new Path(config.getString("data.prepared"), "partitions"), id);
    }

    /** Writes the canonical tables unless they exist. */
    public void prepare(SparkSession spark, Consumer<String> log) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        String format = config.getString("data.source.format");
        if (HadoopFiles.exists(new Path(preparedTable("test"), DatasetInfo.FILE), hadoop)) {
            checkSource(hadoop, log);
            log.accept("prepared data: " + config.getString("data.prepared") + " (exists)");
            return;
        }
        if (format.equals("dataframe") && frames == null) {
            throw new BadInputException("data.source.format = dataframe: the examples come from Experiment.fromDataFrame, and data.prepared "
                    + config.getString("data.prepared") + " holds none (a run on a DataFrame resumes while its prepared tables exist)");
        }
        if (!List.of("idx", "leaf", "csv", "synthetic", "leaf-synthetic", "cifar10", "cifar100", "shakespeare", "table", "dataframe").contains(format)) {
            throw new BadInputException("unknown data.source.format '" + format + "'; known formats: idx, leaf, csv, synthetic, leaf-synthetic, cifar10, cifar100, shakespeare, table");
        }
        Path out = new Path(config.getString("data.prepared"));
        if (HadoopFiles.exists(out, hadoop)) {
            throw new BadInputException("data.prepared " + out + " exists but is incomplete (no test/" + DatasetInfo.FILE
                    + "); remove it or choose another folder");
        }
        Config source = config.getConfig("data.source");
        List<String> found = new java.util.ArrayList<>();
        // where a table's or a DataFrame's label, id and features are
        fedspark.data.TableSource.Columns tableColumns = new fedspark.data.TableSource.Columns(source.getString("label-column"),
                source.getString("id-column"), source.getStringList("feature-columns"));
        // Written whole or not at all: a prepare killed half-way leaves nothing the next one trips on.
        HadoopFiles.writeFolder(out, hadoop, staging -> {
            switch (format) {
                case "idx" -> MnistSource.prepare(spark, new Path(source.getString("path")), source.getInt("limit"), staging);
                case "leaf" -> LeafSource.prepare(spark, new Path(source.getString("path")), staging);
                case "cifar10", "cifar100" -> fedspark.data.CifarSource.prepare(spark, new Path(source.getString("path")), format.equals("cifar10")
                        ? fedspark.data.CifarSource.Variant.CIFAR10 : fedspark.data.CifarSource.Variant.CIFAR100_FINE, staging);
                case "shakespeare" -> fedspark.data.ShakespeareSource.prepare(spark, new Path(source.getString("path")), staging);
                case "table" -> fedspark.data.TableSource.prepare(
                        fedspark.data.TableSource.load(spark, source.getString("train"), source.getString("table-format")),
                        fedspark.data.TableSource.load(spark, source.getString("test"), source.getString("table-format")),
                        tableColumns, config.getIntList("data.shape"), staging, "table " + source.getString("train"));
                case "dataframe" -> fedspark.data.TableSource.prepare(frames.train(), frames.test(),
                        tableColumns, config.getIntList("data.shape"), staging, "DataFrame");
                case "csv" -> CsvSource.prepare(spark, source.getString("train"), source.getString("test"),
                        source.getString("label-column"), source.getString("id-column"), source.getDouble("scale"), staging);
                case "leaf-synthetic" -> fedspark.data.LeafSyntheticSource.prepare(spark, source.getInt("devices"), source.getDouble("alpha"),
                        source.getDouble("beta"), source.getBoolean("iid"), source.getDouble("train-fraction"), source.getLong("seed"), staging);
                default -> SyntheticSource.prepare(spark, source.getLong("examples"), source.getLong("test-examples"),
                        source.getInt("features"), source.getInt("classes"), source.getLong("seed"), source.getInt("users"),
                        source.getDouble("user-size-alpha"), staging);
            }
            HadoopFiles.writeString(new Path(staging, SOURCE_FILE), sourceRecord(hadoop), hadoop);
            found.addAll(fedspark.data.PreparedLabels.recordAndDescribe(spark, staging));
            return staging;
        });
        log.accept("prepared data: " + out);
        found.forEach(log); // the label set and counts, and a warning when the labels are not 0..C-1
    }

    /** Beside the prepared tables: the source they were prepared from. */
    static final String SOURCE_FILE = "_source.conf";

    /**
     * The configured source as prepare records it: the data.source settings its format reads and, for file sources,
     * every input file's path, size and modification time.
     */
    private String sourceRecord(Configuration hadoop) {
        Config source = config.getConfig("data.source");
        String format = source.getString("format");
        List<String> keys = switch (format) {
            case "idx" -> List.of("format", "path", "limit");
            case "leaf", "cifar10", "cifar100", "shakespeare" -> List.of("format", "path");
            case "csv" -> List.of("format", "train", "test", "label-column", "id-column", "scale");
            case "table" -> List.of("format", "train", "test", "table-format", "label-column", "id-column", "feature-columns");
            case "dataframe" -> List.of("format", "label-column", "id-column", "feature-columns");
            case "leaf-synthetic" -> List.of("format", "devices", "alpha", "beta", "iid", "train-fraction", "seed");
            // natural ids only when there are some: a record without them stays valid for tables prepared before they existed
            default -> source.getInt("users") == 0 ? List.of("format", "examples", "test-examples", "features", "classes", "seed")
                    : List.of("format", "examples", "test-examples", "features", "classes", "seed", "users", "user-size-alpha");
        };
        StringBuilder record = new StringBuilder();
        for (String key : keys) {
            record.append(key).append(" = ").append(source.getValue(key).render()).append('\n');
        }
        if (format.equals("dataframe")) {
            return record.append("fingerprint = ").append(frames.fingerprint()).append('\n').toString();
        }
        java.util.TreeSet<String> files = new java.util.TreeSet<>();
        for (String input : sourceInputs()) {
            Path path = new Path(input);
            try {
                org.apache.hadoop.fs.FileSystem fs = path.getFileSystem(hadoop);
                if (!fs.exists(path)) {
                    continue; // prepare names a missing input itself
                }
                org.apache.hadoop.fs.RemoteIterator<org.apache.hadoop.fs.LocatedFileStatus> listed = fs.listFiles(path, true);
                while (listed.hasNext()) {
                    org.apache.hadoop.fs.LocatedFileStatus file = listed.next();
                    files.add(ConfigFactory.parseMap(Map.of("path", file.getPath().toUri().getPath(), "bytes", file.getLen(),
                            "modified", file.getModificationTime())).root().render(com.typesafe.config.ConfigRenderOptions.concise()));
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        record.append("files = [\n");
        files.forEach(file -> record.append("  ").append(file).append('\n'));
        return record.append("]\n").toString();
    }

    /** The configured source's input paths (files or folders); none for generated data, catalog tables and DataFrames. */
    private List<String> sourceInputs() {
        Config source = config.getConfig("data.source");
        return switch (source.getString("format")) {
            case "idx", "leaf", "cifar10", "cifar100", "shakespeare" -> List.of(source.getString("path"));
            case "csv" -> List.of(source.getString("train"), source.getString("test"));
            case "table" -> source.getString("table-format").equals("catalog") ? List.of()
                    : List.of(source.getString("train"), source.getString("test"));
            default -> List.of();
        };
    }

    /** A source record's settings, without its list of input files. */
    private static String settingsOf(String record) {
        int files = record.indexOf("files = [");
        return files < 0 ? record : record.substring(0, files);
    }

    /**
     * Stops when the prepared tables come from another source than the configured one (tables of older versions carry no
     * record). Where none of the configured input files exists (tables prepared on one machine and copied to a cluster's
     * file system), only the data.source settings are compared.
     */
    private void checkSource(Configuration hadoop, Consumer<String> log) {
        Path recorded = new Path(config.getString("data.prepared"), SOURCE_FILE);
        if (!HadoopFiles.exists(recorded, hadoop)) {
            log.accept("prepared data: " + config.getString("data.prepared") + " records no source (prepared by an older version); "
                    + "it is used as it is");
            return;
        }
        if (config.getString("data.source.format").equals("dataframe") && frames == null) {
            log.accept("prepared data: " + config.getString("data.prepared") + " (from a DataFrame; a run resumed uses it as it is)");
            return;
        }
        String was = HadoopFiles.readString(recorded, hadoop);
        String now = sourceRecord(hadoop);
        List<String> inputs = sourceInputs();
        boolean inputsHere = inputs.isEmpty() || inputs.stream().anyMatch(input -> HadoopFiles.exists(new Path(input), hadoop));
        String compared = "the data.source settings and each input file's path, size and modification time";
        if (!inputsHere) {
            was = settingsOf(was);
            now = settingsOf(now);
            compared = "the data.source settings only: no input file of the source is on this file system";
        }
        if (!was.equals(now)) {
            String difference = firstDifference(was, now);
            throw new BadInputException("data.prepared " + config.getString("data.prepared") + " was prepared from another source ("
                    + difference + "; compared " + compared + "); remove that folder to prepare it again from the configured source, or set data.prepared "
                    + "to another folder");
        }
        if (!inputsHere) {
            log.accept("prepared data: no input file of data.source is on this file system (tables prepared elsewhere and copied?); "
                    + "the recorded data.source settings match the configured ones");
        }
    }

    private static String firstDifference(String was, String now) {
        String[] a = was.split("\n");
        String[] b = now.split("\n");
        for (int i = 0; i < Math.max(a.length, b.length); i++) {
            String x = i < a.length ? a[i].trim() : "(nothing)";
            String y = i < b.length ? b[i].trim() : "(nothing)";
            if (!x.equals(y)) {
                return "recorded: " + x + "; configured: " + y;
            }
        }
        return "recorded and configured differ";
    }

    /** Writes the partitioning unless it exists; returns what it holds. */
    public PartitionInfo partition(SparkSession spark, Consumer<String> log) {
        prepare(spark, log);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path root = partitionedData();
        if (PartitionWriter.isComplete(root, hadoop)) {
            log.accept("partitioned data: " + root + " (exists)");
            return PartitionInfo.read(root, hadoop);
        }
        if (HadoopFiles.exists(root, hadoop)) {
            throw new BadInputException("partitioned data " + root + " exists but is incomplete (no " + PartitionInfo.FILE
                    + "); remove it to partition again");
        }
        long start = System.nanoTime();
        PartitionWriter.Written written = HadoopFiles.writeFolder(root, hadoop,
                staging -> PartitionWriter.write(spark, preparedTable("train"), partitioner(), staging,
                        config.getDouble("partition.local-test-fraction"), config.getLong("partition.seed")));
        log.accept(String.format("partitioned data: %s (%.1f s)", root, (System.nanoTime() - start) / 1e9));
        log.accept("  " + written.statistics().summary().line());
        if (written.info().localTestExamples() > 0) {
            log.accept("  local test sets: " + written.info().localTestExamples() + " examples kept apart under " + PartitionWriter.LOCAL_TEST);
        }
        return written.info();
    }

    /**
     * {@code <output.runs>/<label>-<timestamp>} (the label says what ran: {@link #runLabel()}), with a -2, -3 ... suffix
     * when runs start within the same second.
     */
    private Path newRunFolder(Configuration hadoop) {
        String base = runLabel() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path folder = new Path(config.getString("output.runs"), base);
        for (int n = 2; HadoopFiles.exists(folder, hadoop); n++) {
            folder = new Path(config.getString("output.runs"), base + "-" + n);
        }
        return folder;
    }

    /**
     * What a training run leaves: its folder and the final global parameters; and the seconds this call spent training
     * rounds (the rounds' seconds column) and outside them (checking the data, loading the clients, evaluation, writing).
     */
    public record Trained(RunFolder folder, float[] parameters, double trainingSeconds, double outsideSeconds) {

        /** The run's metrics table (round, clients, samples, train_loss, test_loss, test_accuracy, seconds). */
        public Dataset<Row> metrics(SparkSession spark) {
            return spark.read().parquet(new Path(folder.root(), "metrics").toString()).orderBy("round");
        }
    }

    /** Trains with the default run folder, printing one line per round. */
    public Trained train(SparkSession spark) {
        return train(spark, null, System.out::println);
    }

    /** Partitions (if not done yet), printing what it does; returns what the partitioning holds. */
    public PartitionInfo partition(SparkSession spark) {
        return partition(spark, System.out::println);
    }

    /** Per client: n, label histogram, label entropy, distance from the global label distribution (partitions if needed). */
    public Dataset<Row> clientStatistics(SparkSession spark) {
        partition(spark, line -> { });
        return statistics(spark, PartitionStatistics.CLIENTS).orderBy("client");
    }

    /**
     * A statistics table beside the partitioned data, read through its files: Spark ignores a path whose name starts
     * with '_' ("All paths were ignored"), the table's own folder included.
     */
    private Dataset<Row> statistics(SparkSession spark, String table) {
        return spark.read().parquet(new Path(new Path(partitionedData(), table), "*.parquet").toString());
    }

    /** One row: clients, examples, empty clients, min/median/max n_k, mean distance and entropy (partitions if needed). */
    public Dataset<Row> partitionSummary(SparkSession spark) {
        partition(spark, line -> { });
        return statistics(spark, PartitionStatistics.SUMMARY);
    }

    /** The clients x labels heatmap as Zeppelin display text ({@code %html <img ...>}); print it in a paragraph. */
    public String heatmapHtml(SparkSession spark) {
        partition(spark, line -> { });
        byte[] png = HadoopFiles.readBytes(new Path(partitionedData(), PartitionPlots.HEATMAP), spark.sparkContext().hadoopConfiguration());
        return "%html <img width=\"480\" src=\"data:image/png;base64," + Base64.getEncoder().encodeToString(png) + "\"/>";
    }

    /** Prepares and partitions if needed, then trains. */
    public Trained train(SparkSession spark, Path runDir, Consumer<String> log) {
        long began = System.nanoTime();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        TrainSettings settings = TrainSettings.fromConfig(modelLabel(), config.getConfig("train")); // checked before any work
        onRawDataMovement();
        stopAtAccuracy(config);
        PartitionInfo info = partition(spark, log);
        strategy(spark, settings, modelSpec(settings, info, hadoop), info); // the algorithm's own settings checked before a run folder exists
        Path root = runDir != null ? runDir : newRunFolder(hadoop);
        RunFolder folder = RunFolder.create(root, hadoop);
        folder.writeConfig(render());
        return rounds(spark, info, folder, null, log, began);
    }

    /** This experiment without its fault injection (train.stop-after-round, train.fail-first-attempts-in-round), which is not part of it. */
    public Experiment withoutFaultInjection() {
        return set("train.stop-after-round", 0).set("train.fail-first-attempts-in-round", 0);
    }

    /** The experiment a run folder was started with (its config.conf), read through {@code hadoop}. */
    public static Experiment savedIn(Path runDir, Configuration hadoop) {
        Path file = new Path(runDir, "config.conf");
        if (!HadoopFiles.exists(file, hadoop)) {
            throw new BadInputException("no run to resume in " + runDir + " (no config.conf)");
        }
        return new Experiment(withOverrides(ConfigFactory.parseString(HadoopFiles.readString(file, hadoop)), file.toString(), List.of())
                .getConfig("fedspark"));
    }

    /**
     * Goes on with the stopped run in {@code runDir} from its last checkpoint, with the configuration it was
     * started with (and {@code overrides}, e.g. more rounds). The seeds of every round depend only on the run
     * seed and the round, so it ends with the parameters an uninterrupted run would have.
     */
    public static Trained resume(SparkSession spark, Path runDir, List<String> overrides, Consumer<String> log) {
        long began = System.nanoTime();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Config saved = ConfigFactory.parseString(HadoopFiles.readString(new Path(runDir, "config.conf"), hadoop));
        KnownSettings.check(saved, new Path(runDir, "config.conf").toString());
        Experiment experiment = new Experiment(withOverrides(saved, new Path(runDir, "config.conf").toString(), overrides)
                .getConfig("fedspark")).withoutFaultInjection();
        if (!HadoopFiles.exists(new Path(runDir, "checkpoint.bin"), hadoop)) {
            // Stopped before its first checkpoint: nothing of it can be reused; it starts again in its own folder.
            log.accept("resuming " + runDir + ": no checkpoint yet, starting again from round 1");
            return experiment.rounds(spark, experiment.partition(spark, log), RunFolder.reopen(runDir, 0, hadoop), null, log, began);
        }
        FederatedRun.Checkpoint checkpoint = RunFolder.readCheckpoint(runDir, hadoop);
        int rounds = experiment.config.getInt("train.rounds");
        RunFolder folder = RunFolder.reopen(runDir, checkpoint.round(), hadoop);
        if ((checkpoint.round() >= rounds || reachedStop(experiment.config, folder.metrics())) && RunFolder.isComplete(runDir, hadoop)) {
            log.accept("run " + runDir + " is complete (" + checkpoint.round() + " rounds); nothing to resume");
            return new Trained(folder, checkpoint.parameters(), 0, (System.nanoTime() - began) / 1e9);
        }
        log.accept("resuming " + runDir + " after round " + checkpoint.round());
        return experiment.rounds(spark, experiment.partition(spark, log), folder, checkpoint, log, began);
    }

    /**
     * Trains rounds on the partitioned data {@code info} into {@code folder}, from the checkpoint if there is one, else
     * from round 1; says at the end how the seconds since {@code began} (System.nanoTime) split into the rounds' training
     * and the rest.
     */
    private Trained rounds(SparkSession spark, PartitionInfo info, RunFolder folder, FederatedRun.Checkpoint from, Consumer<String> log,
                           long began) {
        TrainSettings settings = TrainSettings.fromConfig(modelLabel(), config.getConfig("train"));
        int checkpointEvery = config.getInt("train.checkpoint-every");
        int stopAfter = config.getInt("train.stop-after-round");
        if (checkpointEvery < 1) {
            throw new IllegalArgumentException("train.checkpoint-every must be at least 1, got " + checkpointEvery);
        }
        double stopAtAccuracy = stopAtAccuracy(config);
        DatasetInfo dataset = info.dataset();
        Configuration hadoop = hadoop(spark);
        ModelSpec model = modelSpec(settings, info, hadoop);
        Strategy<?> strategy = strategy(spark, settings, model, info);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // read on the driver without a Spark job (the server's test set is the server's own data), while the clients load
        java.util.concurrent.CompletableFuture<ClientShard> testSet = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> ClientLayout.readTable(preparedTable("test"), dataset.features(), dataset.classes(), hadoop));
        log.accept(String.format("run folder: %s  %s  model %s  K=%d  m=%d  C=%s E=%d B=%s lr=%s rounds=%d",
                folder.root(), settings.algorithm(), settings.model(), info.clients(), settings.sampledClients(info.clients()),
                settings.clientFraction(), settings.localEpochs(), settings.batchSizeText(), settings.learningRate(), settings.rounds()));
        log.accept(modelLine(model, settings));

        ClientShardRDD shards = new ClientShardRDD(spark.sparkContext(), partitionedData(), clientIndex(spark), info.clients(), dataset.features(),
                dataset.classes());
        ClientEvaluation clientEvaluation = info.localTestExamples() == 0 ? null
                : new ClientEvaluation(new Path(partitionedData(), PartitionWriter.LOCAL_TEST).toString(), model, settings.localStep(), jsc);
        PrivacyAudit audit = new PrivacyAudit(from == null ? List.of() : folder.auditRows(from.round()));
        PrivacyAudit.OnRawDataMovement onRawDataMovement = onRawDataMovement();
        spark.sparkContext().addSparkListener(audit);
        Evaluator evaluator = null;
        try {
            if (config.getBoolean("train.preload-clients")) {
                long start = System.nanoTime();
                long loaded = shards.preload();
                log.accept(String.format("loaded %d clients into their executors' caches (%.1f s)", loaded, (System.nanoTime() - start) / 1e9));
                auditRound(audit, 0, onRawDataMovement, folder, false, log);
            }
            evaluator = new Evaluator(model, settings.localStep(), awaited(testSet)).onSpark(jsc);
            FederatedRun run = new FederatedRun(jsc, shards.toJavaRDD(), model, settings, strategy, evaluator)
                    .failFirstAttemptsInRound(config.getInt("train.fail-first-attempts-in-round"));
            if (strategy.keepsClientState()) {
                run.keepClientStateIn(folder.clientStateRoot().toString(), from == null ? Map.of() : from.clientStateVersions());
            }
            if (clientEvaluation != null) {
                int every = config.getInt("evaluation.clients-every");
                int sample = config.getInt("evaluation.clients-sample");
                run.evaluateClients(clientEvaluation, every, sample, scores -> folder.writeClientScores(scores));
                log.accept(String.format("per-client evaluation on the clients' local test sets (%d examples): %s, every %d rounds and after the last",
                        info.localTestExamples(), sample == 0 || sample >= info.clients() ? "every client"
                                : "the same " + sample + " of the " + info.clients() + " clients, drawn from the run seed", every));
            }
            if (from != null) {
                run.restore(from);
            }
            float[] start = from == null ? run.initialParameters() : from.parameters();
            float[][] last = {start};
            double[] training = {0}; // the seconds of the rounds run here
            int[] ran = {0};
            float[] result;
            try {
                result = run.train(start, from == null ? 1 : from.round() + 1, (row, global) -> {
                    training[0] += row.seconds();
                    ran[0]++;
                    folder.addMetrics(row);
                    log.accept(row.progress(settings.rounds()));
                    if (row.clients() == 0) {
                        audit.roundWithoutJob(row.round());
                    }
                    boolean reached = stopAtAccuracy > 0 && row.testAccuracy() >= stopAtAccuracy;
                    boolean checkpoint = row.round() % checkpointEvery == 0 || row.round() == settings.rounds() || row.round() == stopAfter
                            || reached || run.refuses(row.round() + 1);
                    // audit.csv with the checkpoint, before it: a resumed run goes on from the audit rows up to its checkpoint's round
                    auditRound(audit, row.round(), onRawDataMovement, folder, checkpoint, log);
                    last[0] = global;
                    if (checkpoint) {
                        folder.writeCheckpoint(run.checkpoint(row.round(), global));
                    }
                    if (reached) {
                        throw new TargetReached(row.round());
                    }
                    if (row.round() == stopAfter) {
                        throw new RunStopped("stopped after round " + row.round() + " (train.stop-after-round); go on with: fedspark resume "
                                + folder.root());
                    }
                });
            } catch (FederatedRun.RoundRefused refused) {
                log.accept(refused.getMessage() + "; the run is checkpointed after round " + (refused.round() - 1)
                        + " (raise the budget and fedspark resume " + folder.root() + " to go on)");
                result = last[0];
            } catch (TargetReached reached) {
                log.accept(String.format("test accuracy reached %s (train.stop-at-accuracy) at round %d: the run is complete",
                        stopAtAccuracy, reached.round));
                result = last[0];
            }
            // three files, each a few tenths of a second: at once
            float[] trained = result;
            java.util.concurrent.CompletableFuture<Void> chart = java.util.concurrent.CompletableFuture.runAsync(
                    () -> Report.writeAccuracyPng(folder.root(), folder.metrics(), hadoop(spark)));
            java.util.concurrent.CompletableFuture<Void> saved = java.util.concurrent.CompletableFuture.runAsync(
                    () -> folder.writeModel(model, trained));
            folder.writeMetricsParquet();
            awaitAll(chart, saved);
            double all = (System.nanoTime() - began) / 1e9;
            log.accept(String.format(Locale.ROOT, "%d rounds in %.1f s: %.1f s training them, %.1f s outside them (checking the data, loading"
                    + " the clients, evaluation, writing)", ran[0], all, training[0], all - training[0]));
            return new Trained(folder, result, training[0], all - training[0]);
        } finally {
            spark.sparkContext().removeSparkListener(audit);
            ShardCache.shared().evict(partitionedData().toString());
            if (clientEvaluation != null) {
                clientEvaluation.evictCache();
            }
            if (evaluator != null) {
                evaluator.release();
            }
            ClientStateStore.shared().evict(folder.clientStateRoot().toString());
        }
    }

    /** The value of {@code task} once done; its failure thrown as it was thrown. */
    private static <T> T awaited(java.util.concurrent.CompletableFuture<T> task) {
        awaitAll(task);
        return task.join();
    }

    /** Waits for every one of {@code writes}; the first failure is thrown as it was thrown. */
    private static void awaitAll(java.util.concurrent.CompletableFuture<?>... writes) {
        for (java.util.concurrent.CompletableFuture<?> write : writes) {
            try {
                write.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException runtime) {
                    throw runtime;
                }
                if (e.getCause() instanceof Error error) {
                    throw error;
                }
                throw e;
            }
        }
    }

    private static Configuration hadoop(SparkSession spark) {
        return spark.sparkContext().hadoopConfiguration();
    }

    /** The model a run of this experiment trains, on the data as partitioned (which must exist: no Spark session here). */
    public ModelSpec partitionedModel() {
        Configuration hadoop = new Configuration();
        return modelSpec(TrainSettings.fromConfig(modelLabel(), config.getConfig("train")), PartitionInfo.read(partitionedData(), hadoop), hadoop);
    }

    /**
     * The model on the data {@code info} describes; files (a model file, the prepared data's shape) read through
     * {@code hadoop}, the session's configuration in a run (spark.hadoop.* settings apply, and Hadoop's XML is not parsed
     * again for a configuration of its own).
     */
    private ModelSpec modelSpec(TrainSettings settings, PartitionInfo info, Configuration hadoop) {
        String biases = config.getString("model-biases");
        if (!biases.equals("zero") && !biases.equals("uniform")) {
            throw new BadInputException("model-biases must be zero or uniform, got '" + biases + "'");
        }
        try {
            ModelSpec spec = new ModelSpec(ModelDefinitions.read(config.getValue("model"), path -> modelFile(path, hadoop)), inputShape(info.dataset(), hadoop),
                    info.dataset().classes(), settings.learningRate(), biases.equals("uniform"));
            spec.configuration(); // the model fits the data, or one line naming both
            return spec;
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
    }

    /** How the run calls its model: the built-in name or the file, "layers" for a definition in the config. */
    private String modelLabel() {
        ConfigValue model = config.getValue("model");
        return model.valueType() == com.typesafe.config.ConfigValueType.STRING ? (String) model.unwrapped() : "layers";
    }

    /** A model file's bytes (a path on any Hadoop file system, relative ones from the working directory). */
    private static byte[] modelFile(String path, Configuration hadoop) {
        Path file = new Path(path);
        if (!HadoopFiles.exists(file, hadoop)) {
            throw new BadInputException("model: no such file " + path + " (model is a built-in name, a list of layers, or a file)");
        }
        return HadoopFiles.readBytes(file, hadoop);
    }

    /**
     * The examples' shape: data.shape, else what the source recorded, else IDX's square grey images (tables prepared
     * before sources recorded their shape), else flat values.
     */
    private InputShape inputShape(DatasetInfo dataset, Configuration hadoop) {
        int features = dataset.features();
        List<Integer> shape = config.getIntList("data.shape");
        if (shape.isEmpty() && HadoopFiles.exists(new Path(preparedTable("train"), DatasetInfo.FILE), hadoop)) {
            shape = DatasetInfo.read(preparedTable("train"), hadoop).shape();
        }
        if (shape.isEmpty() && config.getString("data.source.format").equals("idx")) {
            int side = (int) Math.round(Math.sqrt(features));
            shape = side * side == features ? List.of(1, side, side) : List.of();
        }
        return InputShape.of(shape, features);
    }

    /** The run header's model line: the model, its parameter count, and which local step trains it. */
    private static String modelLine(ModelSpec model, TrainSettings settings) {
        String lacks = model.leanStepLacks();
        String step = settings.localStep() == TrainSettings.LocalStep.DL4J ? "DL4J (train.local-step = dl4j)"
                : lacks == null ? "lean (it covers every layer)" : "DL4J fit() (the lean step lacks " + lacks + ")";
        return String.format("model %s on %s, %d classes: %,d parameters; local step: %s", model.name(), model.input(), model.classes(),
                model.parameterCount(), step);
    }

    /** The partitioning's client index (n_k for strategies, where each client's rows are for the clients' RDD), read once. */
    private ClientIndex clientIndex(SparkSession spark) {
        if (clientIndex == null) { // the config, and so the partitioning, is fixed for this instance
            clientIndex = ClientIndex.read(partitionedData(), hadoop(spark));
        }
        return clientIndex;
    }

    /** The algorithm train.algorithm names, with its settings block train.<algorithm>, and the clients' sizes. */
    private Strategy<?> strategy(SparkSession spark, TrainSettings settings, ModelSpec model, PartitionInfo info) {
        return Strategies.create(settings, model, config.getConfig("train"), clientIndex(spark).size());
    }

    private PrivacyAudit.OnRawDataMovement onRawDataMovement() {
        String setting = config.getString("audit.raw-data-movement");
        return switch (setting) {
            case "fail" -> PrivacyAudit.OnRawDataMovement.FAIL;
            case "warn" -> PrivacyAudit.OnRawDataMovement.WARN;
            default -> throw new BadInputException("audit.raw-data-movement must be fail or warn, got '" + setting + "'");
        };
    }

    /**
     * Waits for the round's audit, writes it to the run folder when {@code write} (at checkpoints: rewriting audit.csv
     * every round cost a million-client run a second a round), then fails the run (or warns) if raw client data moved,
     * the audit written first.
     */
    private static void auditRound(PrivacyAudit audit, int round, PrivacyAudit.OnRawDataMovement onRawDataMovement,
                                   RunFolder folder, boolean write, Consumer<String> log) {
        audit.awaitRound(round, log);
        if (write) {
            folder.writeAudit(audit);
        }
        audit.reportKernelMismatch(log);
        try {
            audit.enforce(round, onRawDataMovement, log);
        } catch (PrivacyAudit.RawDataMoved moved) {
            folder.writeAudit(audit);
            throw moved;
        }
    }

    /** train.stop-at-accuracy, checked: 0 (off) or a test accuracy in (0, 1]. */
    private static double stopAtAccuracy(Config config) {
        double target = config.getDouble("train.stop-at-accuracy");
        if (!(target >= 0 && target <= 1)) {
            throw new BadInputException("train.stop-at-accuracy must be 0 (off) or a test accuracy in (0, 1], got " + target);
        }
        return target;
    }

    /** True when {@code rows}, a run's metrics, end at a round that reached train.stop-at-accuracy (where such a run stops). */
    static boolean reachedStop(Config config, List<RoundMetrics> rows) {
        double target = stopAtAccuracy(config);
        return target > 0 && !rows.isEmpty() && rows.get(rows.size() - 1).testAccuracy() >= target;
    }

    /** The round whose test accuracy reached train.stop-at-accuracy: the run ends there, complete. */
    private static final class TargetReached extends RuntimeException {
        private final int round;

        TargetReached(int round) {
            super("test accuracy target reached at round " + round, null, false, false);
            this.round = round;
        }
    }

    /** A run stopped on purpose (train.stop-after-round), with its checkpoint written: resume goes on from there. */
    public static final class RunStopped extends RuntimeException {
        RunStopped(String message) {
            super(message);
        }
    }
}
