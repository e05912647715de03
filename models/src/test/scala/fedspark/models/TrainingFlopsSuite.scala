package fedspark.models

import com.typesafe.config.ConfigFactory
import org.deeplearning4j.nn.conf.NeuralNetConfiguration
import org.deeplearning4j.nn.conf.inputs.InputType
import org.deeplearning4j.nn.conf.layers.OutputLayer
import org.deeplearning4j.nn.conf.layers.recurrent.{LastTimeStep, SimpleRnn}
import org.scalatest.funsuite.AnyFunSuite

class TrainingFlopsSuite extends AnyFunSuite {

  private def layers(hocon: String): ModelDefinition =
    LayerList.of("layers", ConfigFactory.parseString(s"model = $hocon").getValue("model"))

  test("McMahan's 2NN: 198,800 MACs forward, 0.879 MFLOP a training example") {
    val flops = TrainingFlops.of(Models.builtIn("mcmahan-2nn"), InputShape.MNIST, 10)
    val macs = 784L * 200 + 200L * 200 + 200L * 10
    assert(macs == 198800L)
    assert(flops.forwardMacs == macs && flops.inputMacs == 784L * 200)
    // forward 2 MAC, weight gradients 2 MAC, input gradients of the two layers after the first
    assert(flops.perExample == 2 * macs + 2 * macs + 2 * (200L * 200 + 200L * 10))
    assert(flops.perExample == 879200L)
    assert(flops.line == "0.879 MFLOP a training example")
  }

  test("McMahan's CNN: 12,273,152 MACs forward, 72.4 MFLOP a training example; the pooling layers cost nothing") {
    val flops = TrainingFlops.of(Models.builtIn("mcmahan-cnn"), InputShape.MNIST, 10)
    val conv1 = 5L * 5 * 1 * 32 * 28 * 28 // 'same': 28 x 28 out
    val conv2 = 5L * 5 * 32 * 64 * 14 * 14 // after a 2x2 pool
    val dense = 7L * 7 * 64 * 512
    val out = 512L * 10
    assert(conv1 == 627200L && conv1 + conv2 + dense + out == 12273152L)
    assert(flops.forwardMacs == 12273152L && flops.inputMacs == conv1)
    assert(flops.perExample == 4 * 12273152L + 2 * (12273152L - 627200L))
    assert(flops.perExample == 72384512L)
  }

  test("a strided, padded convolution counts the outputs it computes") {
    // 3x32x32 in, 8 filters 3x3, stride 2, padding 1: (32 + 2 - 3) / 2 + 1 = 16 rows and columns out
    val flops = TrainingFlops.of(layers("[{ type = conv2d, filters = 8, kernel = 3, stride = 2, padding = 1 }, { type = output }]"),
      InputShape.image(3, 32, 32), 10)
    val conv = 3L * 3 * 3 * 8 * 16 * 16
    val out = 16L * 16 * 8 * 10
    assert(conv == 55296L)
    assert(flops.forwardMacs == conv + out && flops.inputMacs == conv)
    assert(flops.perExample == 4 * (conv + out) + 2 * out)
    // 'valid' with a 5x3 kernel and stride [1, 2]: 28 x 15 out
    val valid = TrainingFlops.of(layers("[{ type = conv2d, filters = 4, kernel = [5, 3], stride = [1, 2] }, { type = output }]"),
      InputShape.image(1, 32, 32), 10)
    assert(valid.forwardMacs == 5L * 3 * 1 * 4 * 28 * 15 + 28L * 15 * 4 * 10)
  }

  test("an LSTM counts 4 u (i + u) a step; after an embedding (a lookup, 0) its input gradient is needed") {
    // sequences of 10 token indices, 5 classes: embedding 4, LSTM 6 units (last step), output 5
    val embedded = TrainingFlops.of(layers("[{ type = embedding, dim = 4 }, { type = lstm, units = 6 }, { type = output }]"),
      InputShape.sequence(10, 1), 5)
    val lstm = 4L * 6 * (4 + 6) * 10
    assert(lstm == 2400L)
    assert(embedded.forwardMacs == lstm + 6 * 5 && embedded.inputMacs == 0)
    assert(embedded.perExample == 6 * (lstm + 30))
    // as the first layer on 3 values a step only its input part, 4 u i a step, is spared
    val first = TrainingFlops.of(layers("[{ type = lstm, units = 6 }, { type = output }]"), InputShape.sequence(10, 3), 5)
    assert(first.forwardMacs == 4L * 6 * (3 + 6) * 10 + 30 && first.inputMacs == 4L * 6 * 3 * 10)
    assert(first.perExample == 4 * 2190L + 2 * (2190L - 720L))
  }

  test("the shipped CIFAR-10 CNN and Shakespeare LSTM: 3.205 and 381.5 MFLOP a training example") {
    def shipped(name: String): ModelDefinition = ModelDefinitions.read(com.typesafe.config.ConfigValueFactory.fromAnyRef(s"conf/models/$name"),
      path => java.nio.file.Files.readAllBytes(new java.io.File("..", path).toPath))
    // 3x32x32: conv 5x5x6 valid (28x28), pool, conv 5x5x16 (10x10), pool, 400-120, 120-84, 84-10
    val cifar = TrainingFlops.of(shipped("cifar10-cnn.conf"), InputShape.image(3, 32, 32), 10)
    val conv1 = 5L * 5 * 3 * 6 * 28 * 28
    val cifarMacs = conv1 + 5L * 5 * 6 * 16 * 10 * 10 + 400L * 120 + 120L * 84 + 84L * 10
    assert(cifarMacs == 651720L && cifar.forwardMacs == cifarMacs && cifar.inputMacs == conv1)
    assert(cifar.perExample == 3204720L)
    // 80 characters, 80 classes: embedding 8, LSTM 256 on 8, LSTM 256 on 256, the last step's output
    val lstm = TrainingFlops.of(shipped("shakespeare-lstm.conf"), InputShape.sequence(80, 1), 80)
    val lstmMacs = 4L * 256 * (8 + 256) * 80 + 4L * 256 * (256 + 256) * 80 + 256L * 80
    assert(lstm.forwardMacs == lstmMacs && lstm.inputMacs == 0)
    assert(lstm.perExample == 6 * lstmMacs && lstm.perExample == 381542400L)
  }

  test("a layer of a kind not counted: no figure, and the reason") {
    val conf = new NeuralNetConfiguration.Builder().list()
      .layer(new LastTimeStep(new SimpleRnn.Builder().nOut(6).build()))
      .layer(new OutputLayer.Builder().nOut(5).build())
      .setInputType(InputType.recurrent(3, 10)).build()
    val flops = TrainingFlops.of(conf, InputType.recurrent(3, 10))
    assert(!flops.counted)
    assert(flops.uncountable.contains("layer 1") && flops.uncountable.contains("SimpleRnn"), flops.uncountable)
    assert(flops.line.startsWith("training work not counted: layer 1"))
    intercept[IllegalStateException](flops.perExample)
  }
}
