package fedspark.models

import org.scalatest.funsuite.AnyFunSuite

class ModelsSuite extends AnyFunSuite {

  private def count(name: String): Long = Models.parameterCount(name, InputShape.MNIST, 10)

  test("McMahan 2NN has exactly 199,210 parameters") {
    assert(count("mcmahan-2nn") == 199210L)
  }

  test("McMahan CNN has exactly 1,663,370 parameters") {
    assert(count("mcmahan-cnn") == 1663370L)
  }

  test("thesis 2NN (784-128-64-10) and LeNet-5 have their textbook counts") {
    assert(count("thesis-2nn") == 784L * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10)
    // conv 5x5x6 'same' (156), conv 5x5x16 (2,416), 400-120 (48,120), 120-84 (10,164), 84-10 (850)
    assert(count("lenet5") == 156L + 2416 + 48120 + 10164 + 850)
    assert(count("niid-cnn") == 156L + 2416 + 256 * 120 + 120 + 10164 + 850)
    assert(count("logreg") == 7850L)
  }

  test("the same seed gives the same initial parameters, another seed others") {
    val a = FlatParameters.of(Models.network("mcmahan-2nn", InputShape.MNIST, 10, 7L, 0.1))
    val b = FlatParameters.of(Models.network("mcmahan-2nn", InputShape.MNIST, 10, 7L, 0.1))
    val c = FlatParameters.of(Models.network("mcmahan-2nn", InputShape.MNIST, 10, 8L, 0.1))
    assert(a.sameElements(b))
    assert(!a.sameElements(c))
    // PyTorch's default scale: weights within 1/sqrt(fan_in) of zero
    assert(a.take(784 * 200).forall(w => math.abs(w) <= 1.0 / math.sqrt(784) + 1e-6))
  }

  test("biases start at zero, or uniform within their layer's 1/sqrt(fan_in) as PyTorch draws them; weights the same either way") {
    def network(uniform: Boolean) =
      Models.network("niid-cnn", InputShape.MNIST, 10, 7L, new org.nd4j.linalg.learning.config.Sgd(0.1), uniform)
    val zero = network(uniform = false)
    val uniform = network(uniform = true)
    // niid-cnn: conv 6 (fan_in 25), conv 16 (6 * 25), dense 256 -> 120, 120 -> 84, 84 -> 10
    for ((layer, fanIn) <- Seq("0" -> 25, "2" -> 150, "4" -> 256, "5" -> 120, "6" -> 84)) {
      val b0 = zero.getParam(s"${layer}_b").toFloatVector
      val b1 = uniform.getParam(s"${layer}_b").toFloatVector
      assert(b0.forall(_ == 0f), layer)
      assert(b1.forall(b => math.abs(b) <= 1.0 / math.sqrt(fanIn) + 1e-7) && b1.exists(b => math.abs(b) > 0.5 / math.sqrt(fanIn)), s"$layer: ${b1.toSeq}")
      assert(zero.getParam(s"${layer}_W").equals(uniform.getParam(s"${layer}_W")), layer)
    }
    assert(FlatParameters.of(network(uniform = true)).sameElements(FlatParameters.of(uniform)))
  }

  test("the same seed gives the same initial parameters in another JVM") {
    for (name <- Seq("mcmahan-2nn", "lenet5")) {
      val java = System.getProperty("java.home") + "/bin/java"
      val child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        "fedspark.models.PrintInitialParameters", name, "11").redirectErrorStream(false).start()
      val printed = scala.io.Source.fromInputStream(child.getInputStream).getLines().toList.last
      assert(child.waitFor() == 0)
      assert(printed == PrintInitialParameters.digest(name, 11L), name)
    }
  }

  test("flat parameters round-trip and reject a vector of the wrong length") {
    val net = Models.network("thesis-2nn", InputShape.MNIST, 10, 1L, 0.1)
    val values = Array.tabulate(net.numParams().toInt)(i => (i % 97) * 0.001f)
    FlatParameters.set(net, values)
    assert(FlatParameters.of(net).sameElements(values))
    val error = intercept[IllegalArgumentException](FlatParameters.set(net, new Array[Float](3)))
    assert(error.getMessage.contains("109386"))
  }

  test("an unknown model name is named in the error with the known ones") {
    val error = intercept[IllegalArgumentException](count("resnet"))
    assert(error.getMessage.contains("resnet") && error.getMessage.contains("mcmahan-2nn"))
  }
}
