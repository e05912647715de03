package fedspark.engine

import com.typesafe.config.ConfigFactory

import fedspark.engine.strategy.{Strategies, Strategy}

/** Strategies for tests: the algorithm `settings` names, with its options written out (`"mu = 0.1"`). */
object TestRuns {
  def strategy(s: TrainSettings, model: ModelSpec, clients: Int, options: String = ""): Strategy[_] =
    Strategies.create(s, model, ConfigFactory.parseString(s"${s.algorithm} { $options }"), clients)
}
