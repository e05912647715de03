package fedspark.engine

import com.typesafe.config.{Config, ConfigFactory}

import fedspark.engine.strategy.{Strategies, Strategy}

/** Strategies for tests: the algorithm `settings` names, with its options written out (`"mu = 0.1"`). */
object TestRuns {
  def strategy(s: TrainSettings, model: ModelSpec, clients: Int, options: String = ""): Strategy[_] =
    Strategies.create(s, model, ConfigFactory.parseString(s"${s.algorithm} { $options }"), clients)

  /** The train block's logic-layer defaults (as jobs' reference.conf has them) under `overrides`. */
  def trainBlock(overrides: String): Config = ConfigFactory.parseString(overrides).withFallback(ConfigFactory.parseString(
    """update { transforms = [], top-k { fraction = 0.01, error-feedback = true }, random-k { fraction = 0.01, error-feedback = true },
      |  selective-sgd { theta = 0.1 }, quantize { bits = 8 } }
      |privacy { mode = off, clip = 1.0, per-layer-clip = false, noise-multiplier = 1.0, delta = 1e-5, target-epsilon = 0,
      |  target-mode = size, sampling = poisson, estimator = fixed, weight-cap = 1,
      |  adaptive-clip { enabled = false, target-quantile = 0.5, learning-rate = 0.2, count-noise = 1.0 }, local-max-rounds = 0,
      |  accountant = rdp, audit.canaries = 0 }
      |secure-aggregation { enabled = false, dropout = 0, threshold = 0.6 }
      |robust { rule = median, trim = 0.2, byzantine = 0.2, multi-krum = 0, norm-bound = 1.0 }
      |attack { kind = none, fraction = 0.2, scale = 10, noise-std = 1.0, z = 0 }
      |simulation { enabled = false, speed { median = 100, sigma = 0 }, bandwidth { median = 1e7, sigma = 0 }, profile-table = "",
      |  deadline = 0, over-selection = 0, dropout = 0, dropout-trace = "", stragglers = cut }
      |fedbuff { buffer = 3, concurrency = 5, server-lr = 1.0, staleness = sqrt }
      |""".stripMargin)).resolve()

  /** The strategy `settings` names over clients of the given sizes, with the logic layer of `train` (see trainBlock). */
  def strategyWith(s: TrainSettings, model: ModelSpec, sizes: Array[Long], train: String): Strategy[_] =
    Strategies.create(s, model, trainBlock(train), sizes)
}
