package fedspark.models

import java.io.{ByteArrayOutputStream, File}
import java.nio.file.Files

import com.typesafe.config.{ConfigFactory, ConfigValueFactory}
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork
import org.deeplearning4j.util.ModelSerializer
import org.nd4j.linalg.api.buffer.DataType
import org.nd4j.linalg.dataset.DataSet
import org.nd4j.linalg.factory.Nd4j
import org.nd4j.linalg.learning.config.Sgd
import org.scalatest.funsuite.AnyFunSuite

/** Models from a configuration: layer lists (conf/models/), DL4J files, the shape they take from the data. */
class ModelDefinitionSuite extends AnyFunSuite {

  private val shipped = new File("../conf/models")

  private def file(name: String): ModelDefinition =
    ModelDefinitions.read(ConfigValueFactory.fromAnyRef(s"conf/models/$name"), path => Files.readAllBytes(new File("..", path).toPath))

  private def layers(hocon: String): ModelDefinition = ModelDefinitions.read(ConfigFactory.parseString(s"model = $hocon").getValue("model"),
    _ => throw new AssertionError("no file"))

  private def net(d: ModelDefinition, in: InputShape, classes: Int = 10, seed: Long = 7L, uniform: Boolean = false): MultiLayerNetwork =
    Models.network(d, in, classes, seed, new Sgd(0.05), uniform)

  /** A batch of b examples of shape `in`: features from a seeded generator (or token indices below `vocabulary`), labels i mod classes. */
  private def batch(in: InputShape, b: Int, classes: Int = 10, vocabulary: Int = 0): DataSet = {
    val random = new java.util.Random(3)
    val x = Array.fill(b * in.size)(if (vocabulary > 0) random.nextInt(vocabulary).toFloat else random.nextFloat())
    val y = new Array[Float](b * classes)
    for (i <- 0 until b) y(i * classes + i % classes) = 1f
    new DataSet(Nd4j.create(x, Array[Long](b, in.size), DataType.FLOAT), Nd4j.create(y, Array[Long](b, classes), DataType.FLOAT))
  }

  private def trained(n: MultiLayerNetwork, data: DataSet, steps: Int): Array[Float] = {
    for (_ <- 1 to steps) n.fit(data)
    FlatParameters.of(n)
  }

  for ((name, in) <- Seq("mcmahan-2nn" -> InputShape.MNIST, "mcmahan-cnn" -> InputShape.MNIST)) {
    test(s"conf/models/$name.conf gives the built-in $name's parameters bit for bit, zero or uniform biases, and the same steps") {
      for (uniform <- Seq(false, true)) {
        val defined = net(file(s"$name.conf"), in, uniform = uniform)
        val builtIn = Models.network(name, in, 10, 7L, new Sgd(0.05), uniform)
        assert(FlatParameters.of(defined).sameElements(FlatParameters.of(builtIn)), s"$name uniform=$uniform")
        val data = batch(in, 4)
        assert(trained(defined, data, 2).sameElements(trained(builtIn, data, 2)), s"$name uniform=$uniform after two steps")
      }
    }
  }

  test("the CIFAR-10 CNN (NIID-Bench, pfl-research) has 62,006 parameters on 3x32x32 and is niid-cnn's; the Shakespeare LSTM McMahan's count") {
    val cifar = InputShape.image(3, 32, 32)
    assert(net(file("cifar10-cnn.conf"), cifar).numParams() == 62006L)
    assert(FlatParameters.of(net(file("cifar10-cnn.conf"), cifar)).sameElements(FlatParameters.of(Models.network("niid-cnn", cifar, 10, 7L, 0.05))))
    // 80 characters: embedding 80 x 8; LSTM 1: 4 x 256 x (8 + 256 + 1); LSTM 2: 4 x 256 x (256 + 256 + 1); softmax 256 x 80 + 80
    val lstm = net(file("shakespeare-lstm.conf"), InputShape.sequence(80, 1), classes = 80)
    assert(lstm.numParams() == 80L * 8 + 4 * 256 * (8 + 256 + 1) + 4 * 256 * (256 + 256 + 1) + 256 * 80 + 80)
  }

  test("a DL4J model file (ModelSerializer's zip) loads with its parameters and trains as the network it was written from") {
    val original = Models.network("thesis-2nn", InputShape.flat(12), 3, 5L, 0.05) // the run's learning rate (net: 0.05) replaces the file's
    FlatParameters.set(original, Array.tabulate(original.numParams().toInt)(i => ((i * 37) % 101 - 50) * 0.002f))
    val zip = new ByteArrayOutputStream()
    ModelSerializer.writeModel(original, zip, false)
    val loaded = Dl4jFile.read("model.zip", zip.toByteArray)
    val restored = net(loaded, InputShape.flat(12), classes = 3, seed = 99L)
    assert(FlatParameters.of(restored).sameElements(FlatParameters.of(original)), "the file's parameters, not the seed's")
    val data = batch(InputShape.flat(12), 6, classes = 3)
    val before = FlatParameters.of(restored)
    assert(trained(restored, data, 3).sameElements(trained(original, data, 3)))
    assert(!FlatParameters.of(restored).sameElements(before))
  }

  test("a DL4J configuration file (JSON) starts from the run's seed, as the built-in model it describes does") {
    val json = Models.configuration("lenet5", InputShape.MNIST, 10, 0L, new Sgd(0.05)).toJson
    val fromFile = net(Dl4jFile.read("lenet5.json", json.getBytes("UTF-8")), InputShape.MNIST)
    assert(FlatParameters.of(fromFile).sameElements(FlatParameters.of(Models.network("lenet5", InputShape.MNIST, 10, 7L, 0.05))))
  }

  private val everyLayer = Seq(
    "images" -> (InputShape.image(2, 6, 6), 0, """[
      {type = conv2d, filters = 3, kernel = 3, stride = 2, padding = 1}
      {type = batch-norm}
      {type = max-pool, kernel = 2, stride = 1}
      {type = conv2d, filters = 2, kernel = [2, 1], padding = same, activation = tanh}
      {type = avg-pool, kernel = 2}
      {type = dropout, rate = 0.25}
      {type = dense, units = 5}
      {type = output}]"""),
    "sequences" -> (InputShape.sequence(7, 1), 10, """[
      {type = embedding, dim = 4}
      {type = lstm, units = 6}
      {type = lstm, units = 5}
      {type = output}]"""),
    "a wrapper (LastTimeStep) first" -> (InputShape.sequence(5, 1), 0, """[{type = lstm, units = 4}, {type = output}]"""))

  for ((what, (in, vocabulary, hocon)) <- everyLayer) test(s"every layer type trains: $what, each layer's parameters move") {
    val n = net(layers(hocon), in)
    val before = n.getLayers.map(_.params()).map(p => if (p == null) null else p.dup())
    val features = batch(in, 8, vocabulary = vocabulary)
    val data = if (in.kind == InputShape.Kind.SEQUENCE && vocabulary == 0)
      new DataSet(features.getFeatures.reshape(8, 1, in.size), features.getLabels) else features
    for (_ <- 1 to 2) n.fit(data)
    for ((layer, i) <- n.getLayers.zipWithIndex if layer.numParams() > 0) {
      assert(!layer.params().equals(before(i)), s"$what: layer $i (${layer.getClass.getSimpleName}) did not move")
    }
    assert(java.lang.Double.isFinite(n.score()))
  }

  test("a model whose input does not fit the data stops with one line naming both") {
    val strip = intercept[IllegalArgumentException](Models.configuration("mcmahan-cnn", InputShape.flat(3072), 10, 0L, new Sgd(0.1)))
    assert(strip.getMessage.contains("mcmahan-cnn") && strip.getMessage.contains("3072 values with no shape"), strip.getMessage)
    assert(!strip.getMessage.contains("\n"))
    val lstm = intercept[IllegalArgumentException](net(file("shakespeare-lstm.conf"), InputShape.image(3, 32, 32)))
    assert(lstm.getMessage.contains("conf/models/shakespeare-lstm.conf") && lstm.getMessage.contains("3x32x32 images"), lstm.getMessage)
    val json = Models.configuration("mcmahan-2nn", InputShape.MNIST, 10, 0L, new Sgd(0.05)).toJson
    val dense = intercept[IllegalArgumentException](net(Dl4jFile.read("m.json", json.getBytes("UTF-8")), InputShape.image(3, 32, 32)))
    assert(dense.getMessage == "model file m.json takes 784 values, the data's examples are 3x32x32 images (3072 values)", dense.getMessage)
    val cnn = Models.configuration("lenet5", InputShape.MNIST, 10, 0L, new Sgd(0.05)).toJson
    val image = intercept[IllegalArgumentException](net(Dl4jFile.read("l.json", cnn.getBytes("UTF-8")), InputShape.image(1, 32, 32)))
    assert(image.getMessage == "model file l.json takes 1x28x28 images, the data's examples are 1x32x32 images (1024 values)", image.getMessage)
    val classes = intercept[IllegalArgumentException](net(Dl4jFile.read("m.json", json.getBytes("UTF-8")), InputShape.MNIST, classes = 62))
    assert(classes.getMessage == "model file m.json gives 10 outputs, the data has 62 classes")
  }

  test("a definition's mistakes are named: the layer, its type, the setting") {
    def error(hocon: String) = intercept[IllegalArgumentException](layers(hocon)).getMessage
    assert(error("[{type = dense, units = 3}, {type = convolution}, {type = output}]") ==
      "layers: layer 2 has type 'convolution'; layer types: dense, conv2d, max-pool, avg-pool, batch-norm, dropout, embedding, lstm, output")
    assert(error("[{type = dense, width = 3}, {type = output}]").startsWith("layers: layer 1 (dense) has no setting 'width'"))
    assert(error("[{type = dense, units = 3}]").contains("the last layer, and only the last, is { type = output }"))
    val missing = intercept[IllegalArgumentException](net(layers("[{type = dense}, {type = output}]"), InputShape.flat(4)))
    assert(missing.getMessage.startsWith("layers: layer 1 (dense)") && missing.getMessage.contains("units"), missing.getMessage)
    val unknown = intercept[IllegalArgumentException](ModelDefinitions.read(ConfigValueFactory.fromAnyRef("resnet"), _ => Array.emptyByteArray))
    assert(unknown.getMessage.contains("unknown model 'resnet'") && unknown.getMessage.contains("mcmahan-2nn"))
  }

  test("every shipped definition in conf/models/ compiles for its data") {
    val shapes = Map("mcmahan-2nn.conf" -> (InputShape.MNIST, 10), "mcmahan-cnn.conf" -> (InputShape.MNIST, 10),
      "cifar10-cnn.conf" -> (InputShape.image(3, 32, 32), 10), "shakespeare-lstm.conf" -> (InputShape.sequence(80, 1), 80))
    assert(shipped.list().toSet == shapes.keySet)
    for ((name, (in, classes)) <- shapes) assert(net(file(name), in, classes).numParams() > 0, name)
  }
}
