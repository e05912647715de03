package fedspark.engine.evaluation;

import java.io.Serializable;

/**
 * One client's scores on its own local test set in one round: the global model's, and its personalized model's
 * (the same as the global model's when the strategy does not personalize).
 */
public record ClientScore(int round, int client, long trainExamples, long testExamples, double loss, double accuracy,
                          double personalLoss, double personalAccuracy) implements Serializable {
}
