package fedspark.engine.local

import scala.collection.JavaConverters._

import org.scalatest.funsuite.AnyFunSuite

import fedspark.data.ClientShard
import fedspark.engine.{HandSgd, ModelSpec, TrainSettings}
import fedspark.engine.evaluation.Evaluator
import fedspark.engine.local.lean.LeanNetwork
import fedspark.engine.strategy.LocalSgd
import fedspark.models.{FlatParameters, InputShape}

/** The lean step against DL4J's own fit(), the reference for the models' math. */
class LeanNetworkSuite extends AnyFunSuite {

  private def shard(n: Int, seed: Long, features: Int = 784): ClientShard = {
    val random = new scala.util.Random(seed)
    new ClientShard(3, features, Array.fill(n * features)(random.nextFloat()), Array.fill(n)(random.nextInt(10)))
  }

  /** CIFAR-10's examples: 3 channels of 32x32. */
  private val cifar = InputShape.image(3, 32, 32)

  /** Steps `lean` and `reference` from `start` through the same batches, each lean step from the reference's
    * parameters: the largest parameter difference after each step, and how far the reference moved. */
  private def stepByStep(lean: LocalTrainer, reference: LocalTrainer, start: Array[Float], data: ClientShard,
                         batches: Seq[(Array[Int], Int, Int)]): (Seq[Double], Double) = {
    reference.setParameters(start)
    val differences = for ((order, from, to) <- batches) yield {
      lean.setParameters(reference.parameters())
      lean.step(data, order, from, to)
      reference.step(data, order, from, to)
      FlatParameters.maxAbsDifference(lean.parameters(), reference.parameters())
    }
    (differences, FlatParameters.maxAbsDifference(reference.parameters(), start))
  }

  // From the same parameters a lean step and DL4J's agree within 1.5e-8 (float sums in another order; measured over
  // 936 steps of the three CNNs, 12 data seeds), while a client update moves parameters by about 1e-1. Where two
  // values tie to their last bits, rounding decides a ReLU or a pooling maximum and one example's gradient reaches
  // another position: 2 of those 936 steps (mcmahan-cnn) differed that way, by 7.0e-6 and 7.6e-6, in the first two
  // layers' weights. So at most one step in ten may exceed the tolerance, and then by no more than tieBound; a wrong
  // step differs in every step (a lean step at 1% more learning rate: 5e-5 to 4e-4 apart in all of them). Compared
  // over a whole update instead, one tie decided the outcome: the same mcmahan-cnn update differed by 4e-8 on one
  // machine's BLAS kernels and by 1.05e-6 on another's.
  private val tolerance = 1e-6
  private val tieBound = 1e-4

  private def assertSameSteps(differences: Seq[Double], moved: Double): Unit = {
    val tied = differences.filter(_ > tolerance)
    val listed = differences.map(d => f"$d%.1e").mkString(" ")
    assert(tied.size <= differences.size / 10 && tied.forall(_ <= tieBound), s"per-step differences: $listed")
    assert(moved > 1e-2, s"the steps moved parameters by only $moved")
    info(f"largest per-step difference ${differences.max}%.2e, ${tied.size} of ${differences.size} steps above " +
      f"$tolerance; the steps moved parameters by up to $moved%.2e")
  }

  // niid-cnn on 3x32x32 is the CIFAR-10 CNN of conf/models/cifar10-cnn.conf (ModelDefinitionSuite: the same parameters)
  for ((model, shape, batch, epochs) <- Seq(("mcmahan-2nn", InputShape.MNIST, 10, 5), ("mcmahan-2nn", InputShape.MNIST, 50, 5),
    ("thesis-2nn", InputShape.MNIST, 10, 5), ("logreg", InputShape.MNIST, 10, 5), ("lenet5", InputShape.MNIST, 10, 2), ("lenet5", InputShape.MNIST, 50, 2),
    ("niid-cnn", InputShape.MNIST, 10, 2), ("mcmahan-cnn", InputShape.MNIST, 10, 1), ("niid-cnn", cifar, 10, 1))) {
    val on = if (shape == InputShape.MNIST) "" else s" on $shape"
    test(s"$model$on, B=$batch, E=$epochs: each lean step of a client update equals DL4J's within $tolerance") {
      val spec = new ModelSpec(model, shape, 10, 0.05)
      val n = 130 // with B=50, every epoch ends with a partial batch
      val data = shard(n, 5L, shape.size())
      val global = FlatParameters.of(spec.newNetwork(9L))
      val batches = for (epoch <- 0 until epochs; order = LocalBatches.order(n, 4L, 1, data.client(), epoch);
                         from <- 0 until n by batch) yield (order, from, math.min(n, from + batch))
      val (lean, reference) = (spec.threadTrainer(TrainSettings.LocalStep.AUTO), spec.threadTrainer(TrainSettings.LocalStep.DL4J))
      Seq(lean, reference).foreach(_.setStepRule(StepRule.sgd(0.05))) // thread trainers keep the rule last set
      val (differences, moved) = stepByStep(lean, reference, global, data, batches)
      assertSameSteps(differences, moved)

      // LocalSgd takes these batches (its DL4J update is the reference's, bit for bit) and its lean update's loss agrees.
      val referenceUpdate = reference.parameters()
      def update(step: TrainSettings.LocalStep) = new LocalSgd(spec, step, epochs, batch, 4L).train(data, global, StepRule.sgd(0.05), 1)
      val (leanUpdate, dl4jUpdate) = (update(TrainSettings.LocalStep.AUTO), update(TrainSettings.LocalStep.DL4J))
      assert(dl4jUpdate.parameters.sameElements(referenceUpdate) && leanUpdate.steps == batches.size)
      assert(math.abs(leanUpdate.lossSum - dl4jUpdate.lossSum) / dl4jUpdate.lossSum < 1e-5,
        s"loss sums ${leanUpdate.lossSum} and ${dl4jUpdate.lossSum}")
    }
  }

  test("a plain SGD rule at another learning rate than the model's: both steps follow the rule") {
    val spec = new ModelSpec("lenet5", InputShape.MNIST, 10, 0.05)
    val data = shard(40, 5L)
    val global = FlatParameters.of(spec.newNetwork(9L))
    val order = (0 until 40).toArray
    def stepped(lr: Double) = {
      val (lean, reference) = (spec.threadTrainer(TrainSettings.LocalStep.AUTO), spec.threadTrainer(TrainSettings.LocalStep.DL4J))
      Seq(lean, reference).foreach(_.setStepRule(StepRule.sgd(lr)))
      val (differences, moved) = stepByStep(lean, reference, global, data, (0 until 40 by 10).map(from => (order, from, from + 10)))
      (differences, moved, reference.parameters())
    }
    val (differences, moved, faster) = stepped(0.2)
    assertSameSteps(differences, moved)
    assert(FlatParameters.maxAbsDifference(faster, stepped(0.05)._3) > 1e-2, "DL4J's step kept the model's learning rate")
  }

  /**
   * A convolution (4 channels, ReLU) of `kernel` x `kernel` windows at `stride` with `padding` on `height` x `width`
   * images, then a max pool of `pool` windows at `poolStride`, then the softmax output.
   */
  private def convolutionNet(stride: Int, padding: Int, kernel: Int = 3, height: Int = 28, width: Int = 28,
                             pool: (Int, Int) = (2, 2), poolStride: (Int, Int) = (2, 2)) = {
    import org.deeplearning4j.nn.conf.{ConvolutionMode, NeuralNetConfiguration}
    import org.deeplearning4j.nn.conf.inputs.InputType
    import org.deeplearning4j.nn.conf.layers.{ConvolutionLayer, OutputLayer, PoolingType, SubsamplingLayer}
    import org.nd4j.linalg.activations.Activation
    import org.nd4j.linalg.lossfunctions.LossFunctions
    new NeuralNetConfiguration.Builder().seed(1L).updater(new org.nd4j.linalg.learning.config.Sgd(0.1)).list()
      .layer(new ConvolutionLayer.Builder(kernel, kernel).stride(stride, stride).padding(padding, padding).nOut(4).activation(Activation.RELU)
        .convolutionMode(ConvolutionMode.Truncate).build())
      .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(pool._1, pool._2).stride(poolStride._1, poolStride._2)
        .convolutionMode(ConvolutionMode.Truncate).build())
      .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build())
      .setInputType(InputType.convolutionalFlat(height, width, 1)).build()
  }

  // Convolutions no shipped model has, on 28x28 inputs, each followed by a 2x2 pool: 3x3 kernels with padding 1 at
  // stride 2 (14x14, the edges read padding); at stride 1 over a minibatch larger than a primitive call takes
  // (Convolution.CHUNK: two chunks of different sizes, their gradients added); a 4x4 kernel without padding, whose
  // 25x25 output the pool reads but for its last row and column.
  for ((stride, padding, kernel, batch, name) <- Seq((2, 1, 3, 10, "a strided, padded convolution"),
    (1, 1, 3, 150, "a padded convolution over minibatches of more than Convolution.CHUNK examples"),
    (1, 0, 4, 10, "a convolution with an odd output size before the pool"))) {
    test(s"$name steps as DL4J's fit() does") {
      import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
      val conf = convolutionNet(stride, padding, kernel)
      assert(LeanNetwork.unsupported(conf) == null)
      val net = new MultiLayerNetwork(conf)
      net.init()
      val global = FlatParameters.of(net)
      val data = shard(3 * batch, 7L)
      val order = (0 until 3 * batch).toArray
      val (differences, moved) = stepByStep(new LeanNetwork(conf), new Dl4jTrainer(net, 10), global, data,
        (0 until 3 * batch by batch).map(from => (order, from, from + batch)))
      assertSameSteps(differences, moved)
    }
  }

  // Max pooling runs on oneDNN where 2x2 windows at stride 2 tile the input, in Java loops elsewhere; both keep state
  // per batch size (oneDNN's primitives and workspace, the loops' argmax). Two epochs of 27 examples at B=10 give
  // batches of 10, 10 and 7, then 10 again: the short batch's state, and the full batch's after it. Images are not
  // square (a height and width swapped somewhere would read the wrong pixels).
  for ((height, width, pool, stride, name) <- Seq((28, 20, (2, 2), (2, 2), "2x2 windows at stride 2 (oneDNN)"),
    (28, 20, (3, 3), (2, 2), "3x3 windows at stride 2, overlapping (Java)"), (16, 12, (2, 2), (1, 1), "2x2 windows at stride 1 (Java)"),
    (15, 12, (3, 2), (3, 2), "3x2 windows tiling a 15x12 input (Java)"))) {
    test(s"max pooling, $name, on ${height}x$width images over batches of 10, 10, 7, 10, 10, 7: steps as DL4J's fit() does") {
      import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
      val conf = convolutionNet(1, 1, height = height, width = width, pool = pool, poolStride = stride)
      assert(LeanNetwork.unsupported(conf) == null)
      val net = new MultiLayerNetwork(conf)
      net.init()
      val data = shard(27, 13L, height * width)
      val order = (0 until 27).toArray
      val batches = for (_ <- 0 until 2; from <- 0 until 27 by 10) yield (order, from, math.min(27, from + 10))
      val (differences, moved) = stepByStep(new LeanNetwork(conf), new Dl4jTrainer(net, 10), FlatParameters.of(net), data, batches)
      assertSameSteps(differences, moved)
    }
  }

  // Convolutions hand their outputs on in the blocked layout oneDNN chose (LeanNetwork.exchangeLayouts): to a max
  // pooling and through it to the next convolution, straight to another convolution, and to a pooling that hands on
  // nchw to the output layer. 16 channels are whole blocks of AVX-512's 16 floats and of AVX2's 8. Minibatches of 150
  // (two primitive calls: Convolution.CHUNK and 22 examples), 10 and 7; then a forward pass of 33 examples.
  test("activations held in oneDNN's blocked layout between convolutions and poolings: steps and outputs as DL4J's") {
    import org.deeplearning4j.nn.conf.{ConvolutionMode, NeuralNetConfiguration}
    import org.deeplearning4j.nn.conf.inputs.InputType
    import org.deeplearning4j.nn.conf.layers.{ConvolutionLayer, OutputLayer, PoolingType, SubsamplingLayer}
    import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
    import org.nd4j.linalg.activations.Activation
    import org.nd4j.linalg.lossfunctions.LossFunctions
    def conv() = new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(16).activation(Activation.RELU)
      .convolutionMode(ConvolutionMode.Truncate).build()
    def pool() = new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).convolutionMode(ConvolutionMode.Truncate).build()
    val conf = new NeuralNetConfiguration.Builder().seed(5L).updater(new org.nd4j.linalg.learning.config.Sgd(0.1)).list()
      .layer(conv()).layer(pool()).layer(conv()).layer(conv()).layer(pool())
      .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build())
      .setInputType(InputType.convolutionalFlat(16, 12, 1)).build()
    assert(LeanNetwork.unsupported(conf) == null)
    val net = new MultiLayerNetwork(conf)
    net.init()
    val data = shard(167, 17L, 16 * 12)
    val order = (0 until 167).toArray
    val lean = new LeanNetwork(conf)
    val reference = new Dl4jTrainer(net, 10)
    val (differences, moved) = stepByStep(lean, reference, FlatParameters.of(net), data, Seq((order, 0, 150), (order, 150, 160), (order, 160, 167)))
    assertSameSteps(differences, moved)

    val layouts = lean.activationLayouts().asScala
    val blocked = layouts(1)
    assert(blocked != "nchw" && layouts == Seq("nchw", blocked, blocked, blocked, blocked, "nchw", "nchw"), layouts.mkString(" > "))
    lean.setParameters(reference.parameters())
    val (leanOut, referenceOut) = (lean.probabilities(data, order, 40, 73), reference.probabilities(data, order, 40, 73))
    val apart = leanOut.indices.map(k => math.abs(leanOut(k) - referenceOut(k))).max
    assert(leanOut.length == 330 && apart < 1e-6, s"probabilities up to $apart apart")
    info(s"activations ${layouts.mkString(" > ")}; probabilities up to $apart apart")
  }

  // Dense layers (oneDNN's sgemm) and convolutions (oneDNN's primitives) read each other's blocks, whichever comes first.
  test("dense layers before, between and after convolutions step as DL4J's fit() does") {
    import org.deeplearning4j.nn.conf.{ConvolutionMode, NeuralNetConfiguration}
    import org.deeplearning4j.nn.conf.inputs.InputType
    import org.deeplearning4j.nn.conf.layers.{ConvolutionLayer, DenseLayer, OutputLayer}
    import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor
    import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
    import org.nd4j.linalg.activations.Activation
    import org.nd4j.linalg.lossfunctions.LossFunctions
    def conv() = new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.RELU).convolutionMode(ConvolutionMode.Truncate).build()
    def dense(units: Int) = new DenseLayer.Builder().nOut(units).activation(Activation.RELU).build()
    val conf = new NeuralNetConfiguration.Builder().seed(3L).updater(new org.nd4j.linalg.learning.config.Sgd(0.1)).list()
      .layer(dense(64)).layer(conv())
      .layer(dense(30)).layer(dense(36)).layer(conv())
      .layer(dense(20)).layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build())
      .inputPreProcessor(1, new FeedForwardToCnnPreProcessor(8, 8, 1)).inputPreProcessor(4, new FeedForwardToCnnPreProcessor(6, 6, 1))
      .setInputType(InputType.feedForward(784)).build()
    assert(LeanNetwork.unsupported(conf) == null)
    val net = new MultiLayerNetwork(conf)
    net.init()
    val global = FlatParameters.of(net)
    val data = shard(40, 11L)
    val order = (0 until 40).toArray
    val (differences, moved) = stepByStep(new LeanNetwork(conf), new Dl4jTrainer(net, 10), global, data,
      (0 until 40 by 10).map(from => (order, from, from + 10)))
    assertSameSteps(differences, moved)
  }

  // From 2^18 weights on (Dense.TRANSPOSED_FORWARD_WEIGHTS) a dense layer computes its forward product transposed:
  // here the first hidden layer (784 x 400) and the softmax output (2048 x 128) do, the two between (400 x 32,
  // 32 x 2048) do not; a short last batch checks the transposition's strides, a larger evaluation batch its buffers' growth.
  test("dense layers above and below the size that computes the forward product transposed step as DL4J's fit() does") {
    import org.deeplearning4j.nn.conf.NeuralNetConfiguration
    import org.deeplearning4j.nn.conf.inputs.InputType
    import org.deeplearning4j.nn.conf.layers.{DenseLayer, OutputLayer}
    import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
    import org.nd4j.linalg.activations.Activation
    import org.nd4j.linalg.lossfunctions.LossFunctions
    def dense(units: Int) = new DenseLayer.Builder().nOut(units).activation(Activation.RELU).build()
    val conf = new NeuralNetConfiguration.Builder().seed(7L).updater(new org.nd4j.linalg.learning.config.Sgd(0.1)).list()
      .layer(dense(400)).layer(dense(32)).layer(dense(2048))
      .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(128).activation(Activation.SOFTMAX).build())
      .setInputType(InputType.feedForward(784)).build()
    val transposedFrom = 1 << 18
    assert(784 * 400 >= transposedFrom && 2048 * 128 >= transposedFrom && 32 * 2048 < transposedFrom)
    val net = new MultiLayerNetwork(conf)
    net.init()
    val global = FlatParameters.of(net)
    val data = shard(37, 13L)
    val order = (0 until 37).toArray
    val (lean, reference) = (new LeanNetwork(conf), new Dl4jTrainer(net, 128))
    val (differences, moved) = stepByStep(lean, reference, global, data,
      Seq((order, 0, 10), (order, 10, 20), (order, 20, 30), (order, 30, 37), (order, 0, 10)))
    assertSameSteps(differences, moved)
    lean.setParameters(reference.parameters())
    // 37 examples at once, more than any minibatch before: the transposed product's buffers grow.
    val (leanOut, referenceOut) = (lean.probabilities(data, order, 0, 37), reference.probabilities(data, order, 0, 37))
    val apart = leanOut.indices.map(k => math.abs(leanOut(k) - referenceOut(k))).max
    assert(leanOut.length == 37 * 128 && apart < 1e-6, s"probabilities up to $apart apart")
  }

  test("a ReLU with a cap, a threshold or a slope below it is left to DL4J, in dense layers and convolutions") {
    import org.deeplearning4j.nn.conf.NeuralNetConfiguration
    import org.deeplearning4j.nn.conf.inputs.InputType
    import org.deeplearning4j.nn.conf.layers.{ConvolutionLayer, DenseLayer, OutputLayer}
    import org.nd4j.linalg.activations.impl.ActivationReLU
    import org.nd4j.linalg.lossfunctions.LossFunctions
    def output() = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
      .activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build()
    def dense(relu: ActivationReLU) = new NeuralNetConfiguration.Builder().list()
      .layer(new DenseLayer.Builder().nOut(20).activation(relu).build()).layer(output())
      .setInputType(InputType.feedForward(784)).build()
    def conv(relu: ActivationReLU) = new NeuralNetConfiguration.Builder().list()
      .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(relu).build()).layer(output())
      .setInputType(InputType.convolutionalFlat(28, 28, 1)).build()
    assert(LeanNetwork.unsupported(dense(new ActivationReLU())) == null && LeanNetwork.unsupported(conv(new ActivationReLU())) == null)
    for (relu <- Seq(new ActivationReLU(6.0, 0.0, 0.0), new ActivationReLU(null, 0.5, 0.0), new ActivationReLU(null, 0.0, 0.1))) {
      assert(LeanNetwork.unsupported(dense(relu)) != null, s"dense $relu")
      assert(LeanNetwork.unsupported(conv(relu)) != null, s"convolution $relu")
    }
  }

  test("a convolution whose stride leaves input rows unread is left to DL4J, with the reason") {
    // 28 rows, 3x3 windows at stride 2 without padding: 13 windows reach row 26, row 27 is never read.
    assert(LeanNetwork.unsupported(convolutionNet(2, 0)).contains("unread"))
  }

  test("the lean step covers every model fedspark ships") {
    for (model <- fedspark.models.Models.names().asScala) {
      val conf = fedspark.models.Models.configuration(model, InputShape.MNIST, 10, 0L, new org.nd4j.linalg.learning.config.Sgd(0.1))
      assert(LeanNetwork.unsupported(conf) == null, model)
    }
  }

  test("evaluation through the lean forward pass agrees with DL4J's output()") {
    for (model <- Seq("mcmahan-2nn", "lenet5")) {
      val spec = new ModelSpec(model, InputShape.MNIST, 10, 0.05)
      val random = new scala.util.Random(8)
      val rows = java.util.Arrays.asList((0 until 300).map(_ =>
        org.apache.spark.sql.Row(random.nextInt(10), Array.fill(784)(random.nextFloat()).toSeq)): _*)
      val parameters = FlatParameters.of(spec.newNetwork(3L))
      val lean = new Evaluator(spec, TrainSettings.LocalStep.AUTO, rows).evaluate(parameters)
      val reference = new Evaluator(spec, TrainSettings.LocalStep.DL4J, rows).evaluate(parameters)
      assert(math.abs(lean.loss - reference.loss) < 1e-5, s"$model: $lean vs $reference")
      assert(lean.accuracy == reference.accuracy, s"$model: $lean vs $reference")
    }
  }

  /** One client update of logistic regression through `step` with `rule`, and the same computed by hand. */
  private def againstHand(rule: HandSgd.Rule, step: TrainSettings.LocalStep): (Double, Double) = {
    val spec = new ModelSpec("logreg", InputShape.MNIST, 10, rule.lr)
    val data = shard(60, 6L)
    val global = FlatParameters.of(spec.newNetwork(2L))
    val stepRule = new StepRule(rule.lr, rule.momentum, rule.weightDecay, rule.proximalMu,
      Option(rule.anchor).map(_.map(_.toFloat)).orNull, Option(rule.correction).map(_.map(_.toFloat)).orNull)
    val trained = new LocalSgd(spec, step, 2, 10, 4L).train(data, global, stepRule, 1).parameters
    val (hand, steps) = HandSgd.train(data, global.map(_.toDouble), 10, 2, 10, 4L, 1, rule)
    assert(steps == 12)
    (HandSgd.maxDifference(trained, hand), hand.indices.map(k => math.abs(hand(k) - global(k))).max)
  }

  private lazy val globalLogreg = FlatParameters.of(new ModelSpec("logreg", InputShape.MNIST, 10, 0.05).newNetwork(2L)).map(_.toDouble)
  private lazy val correction = Array.tabulate(globalLogreg.length)(k => 0.01 * math.sin(k.toDouble))
  private lazy val rules = Seq(
    "momentum (PyTorch's rule)" -> HandSgd.Rule(0.05, momentum = 0.9),
    "weight decay" -> HandSgd.Rule(0.05, weightDecay = 0.01),
    "FedProx's proximal term" -> HandSgd.Rule(0.05, proximalMu = 0.5, anchor = globalLogreg.map(_ + 0.05)),
    "SCAFFOLD's correction" -> HandSgd.Rule(0.05, correction = correction),
    "all of them" -> HandSgd.Rule(0.05, 0.9, 0.01, 0.5, globalLogreg.map(_ - 0.05), correction))

  for ((name, rule) <- rules; step <- TrainSettings.LocalStep.values()) {
    test(s"step rule, $name: the $step client update equals the rule computed by hand (logistic regression)") {
      val (difference, moved) = againstHand(rule, step)
      assert(difference <= 1e-5, s"max abs difference $difference")
      assert(moved > 1e-2)
      info(f"max abs parameter difference $difference%.2e; the update moved parameters by up to $moved%.2e")
    }
  }

  for (model <- Seq("mcmahan-2nn", "lenet5")) test(s"$model: every step rule term at once, the lean step equals DL4J's gradient with the rule") {
    val spec = new ModelSpec(model, InputShape.MNIST, 10, 0.05)
    val data = shard(50, 5L)
    val global = FlatParameters.of(spec.newNetwork(9L))
    val random = new scala.util.Random(3)
    val rule = new StepRule(0.05, 0.9, 1e-3, 0.3, global.map(_ + 0.01f), Array.fill(global.length)(random.nextGaussian().toFloat * 0.01f))
    def update(step: TrainSettings.LocalStep) = new LocalSgd(spec, step, 2, 10, 4L).train(data, global, rule, 1).parameters
    val diff = FlatParameters.maxAbsDifference(update(TrainSettings.LocalStep.AUTO), update(TrainSettings.LocalStep.DL4J))
    val moved = FlatParameters.maxAbsDifference(update(TrainSettings.LocalStep.DL4J), global)
    assert(diff <= tolerance && moved > 1e-2, s"max abs parameter difference $diff, moved $moved")
    info(f"max abs parameter difference $diff%.2e; the update moved parameters by up to $moved%.2e")
  }

  test("a shard of the wrong width is refused") {
    val spec = new ModelSpec("logreg", InputShape.MNIST, 10, 0.1)
    val trainer = spec.threadTrainer(TrainSettings.LocalStep.AUTO)
    val narrow = new ClientShard(1, 10, new Array[Float](20), Array(0, 1))
    assert(intercept[IllegalArgumentException](trainer.step(narrow, Array(0, 1), 0, 2)).getMessage.contains("10 features"))
  }
}
