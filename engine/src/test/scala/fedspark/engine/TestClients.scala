package fedspark.engine

import fedspark.data.ClientShard
import fedspark.engine.state.ClientState
import fedspark.models.{FlatParameters, InputShape}

/** Small clients of random 784-feature data for the driver-less suites, a logistic-regression model, and client state in memory. */
object TestClients {
  val classes = 10
  val d = 784
  val spec = new ModelSpec("logreg", InputShape.MNIST, classes, 0.05)
  lazy val start: Array[Float] = FlatParameters.of(spec.newNetwork(2L))

  def shard(client: Int, n: Int, seed: Long): ClientShard = {
    val random = new scala.util.Random(seed)
    new ClientShard(client, d, Array.fill(n * d)(random.nextFloat()), Array.fill(n)(random.nextInt(classes)))
  }

  /** A client's state kept in memory between rounds, as the store keeps it on an executor. */
  class MemoryState extends ClientState {
    val vectors = scala.collection.mutable.Map[String, Array[Float]]()
    override def get(name: String): Array[Float] = vectors.get(name).orNull
    override def put(name: String, values: Array[Float]): Unit = vectors(name) = values
  }
}
