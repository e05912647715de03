package fedspark.engine;

/** Loss and accuracy of the global model on a test set. */
public record Evaluation(double loss, double accuracy) {
}
