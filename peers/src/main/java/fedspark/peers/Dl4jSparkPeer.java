package fedspark.peers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import fedspark.models.InputShape;
import fedspark.models.Models;
import scala.Tuple2;

/**
 * The JVM user's alternative to fedspark: Deeplearning4j's own Spark trainer, dl4j-spark's
 * ParameterAveragingTrainingMaster, as FedAvg with C = 1. The prepared training table is split IID into K
 * equal partitions (the clients); each partition holds its examples E times over, reshuffled per epoch, and
 * the master averages after E * n_k / B minibatches, so one fit() over the RDD is one FedAvg round with every
 * client taking part. Prints the peer script's CSV (round, clients, samples, train_loss, test_loss,
 * test_accuracy, seconds); seconds is the fit() alone, evaluation not counted.
 *
 * <p>Arguments: PREPARED_DIR MODEL K E B LR ROUNDS SEED (run by {@code fedspark bench --dl4j-spark}).
 */
public final class Dl4jSparkPeer {

    private Dl4jSparkPeer() {
    }

    public static void main(String[] args) {
        if (args.length != 8) {
            System.err.println("usage: Dl4jSparkPeer PREPARED_DIR MODEL K E B LR ROUNDS SEED");
            System.exit(2);
        }
        String prepared = args[0];
        String model = args[1];
        int clients = Integer.parseInt(args[2]);
        int epochs = Integer.parseInt(args[3]);
        int batch = Integer.parseInt(args[4]);
        double lr = Double.parseDouble(args[5]);
        int rounds = Integer.parseInt(args[6]);
        long seed = Long.parseLong(args[7]);

        try (SparkSession spark = SparkSession.builder().appName("dl4j-spark peer").master("local[*]")
                .config("spark.ui.enabled", "false").getOrCreate()) {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            JavaRDD<Row> rows = spark.read().parquet(prepared + "/train").select("label", "features").javaRDD();
            long n = rows.count();
            int features = rows.first().getList(1).size();
            int classes = 10;
            int perClient = (int) (n / clients);

            // IID: a seeded permutation of example indices, cut into K equal clients.
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                order.add(i);
            }
            Collections.shuffle(order, new Random(seed));
            int[] clientOf = new int[(int) n];
            for (int position = 0; position < n; position++) {
                clientOf[order.get(position)] = Math.min(position / perClient, clients - 1);
            }
            var clientOfExample = jsc.broadcast(clientOf);
            JavaRDD<DataSet> training = rows.zipWithIndex()
                    .mapToPair(t -> new Tuple2<>(clientOfExample.value()[(int) (long) t._2()], t._1()))
                    .partitionBy(new HashPartitioner(clients))
                    .mapPartitionsWithIndex((k, it) -> {
                        List<DataSet> shard = new ArrayList<>();
                        it.forEachRemaining(t -> shard.add(example(t._2(), features, classes)));
                        List<DataSet> epochsOfShard = new ArrayList<>();
                        for (int e = 0; e < epochs; e++) {
                            Collections.shuffle(shard, new Random(seed * 1_000_003L + k * 101L + e));
                            epochsOfShard.addAll(shard);
                        }
                        return epochsOfShard.iterator();
                    }, true)
                    .persist(StorageLevel.MEMORY_ONLY());
            training.count();

            List<Row> testRows = spark.read().parquet(prepared + "/test").select("label", "features").collectAsList();
            DataSet test = batch(testRows, features, classes);

            MultiLayerNetwork net = Models.network(model, InputShape.ofFlatSize(features), classes, seed, lr);
            ParameterAveragingTrainingMaster master = new ParameterAveragingTrainingMaster.Builder(clients, 1)
                    .batchSizePerWorker(batch)
                    .averagingFrequency(epochs * perClient / batch)
                    .workerPrefetchNumBatches(0)
                    .repartionData(Repartition.Never)
                    .rddTrainingApproach(RDDTrainingApproach.Direct)
                    .storageLevel(StorageLevel.MEMORY_ONLY()) // the level the training RDD is cached at above
                    .collectTrainingStats(false)
                    .build();
            SparkDl4jMultiLayer trainer = new SparkDl4jMultiLayer(jsc, net, master);
            System.out.println("round,clients,samples,train_loss,test_loss,test_accuracy,seconds");
            for (int round = 1; round <= rounds; round++) {
                long start = System.nanoTime();
                trainer.fit(training);
                double seconds = (System.nanoTime() - start) / 1e9;
                MultiLayerNetwork global = trainer.getNetwork();
                Evaluation evaluation = new Evaluation(classes);
                INDArray output = global.output(test.getFeatures());
                evaluation.eval(test.getLabels(), output);
                double testLoss = global.score(test);
                System.out.printf(Locale.ROOT, "%d,%d,%d,%.5f,%.5f,%.4f,%.3f%n", round, clients, (long) perClient * clients,
                        trainer.getScore(), testLoss, evaluation.accuracy(), seconds);
            }
        }
    }

    private static DataSet example(Row row, int features, int classes) {
        return batch(List.of(row), features, classes);
    }

    private static DataSet batch(List<Row> rows, int features, int classes) {
        float[] x = new float[rows.size() * features];
        float[] y = new float[rows.size() * classes];
        for (int i = 0; i < rows.size(); i++) {
            List<Float> values = rows.get(i).getList(1);
            for (int j = 0; j < features; j++) {
                x[i * features + j] = values.get(j);
            }
            y[i * classes + rows.get(i).getInt(0)] = 1f;
        }
        return new DataSet(Nd4j.create(x, new long[] {rows.size(), features}, DataType.FLOAT),
                Nd4j.create(y, new long[] {rows.size(), classes}, DataType.FLOAT));
    }
}
