package fedspark.engine.evaluation;

/** Loss and accuracy of a model on a set of examples. */
public record Evaluation(double loss, double accuracy) {
}
