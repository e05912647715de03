package fedspark.models

/** Prints a digest of a model's initial parameters; ModelsSuite runs it in a second JVM. */
object PrintInitialParameters {
  def digest(name: String, seed: Long): String = {
    val values = FlatParameters.of(Models.network(name, InputShape.MNIST, 10, seed, 0.1))
    java.util.Arrays.hashCode(values).toString + "/" + values.length
  }

  def main(args: Array[String]): Unit = println(digest(args(0), args(1).toLong))
}
