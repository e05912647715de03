package fedspark.engine.logic;

/**
 * Local differential privacy: the client adds N(0, (z S)^2) to every coordinate of its clipped update (clip norm S,
 * noise multiplier z), so its update is the Gaussian mechanism on its own data whatever the server does. The noise is
 * seeded by the run seed, the round and the client, so that runs repeat; a deployment would draw it from a
 * cryptographically secure source. Sparse updates stay sparse: the noise goes on the coordinates sent.
 */
public final class GaussianNoise implements UpdateTransform {

    private final double std;
    private final int step;

    /** {@code std} = z S; {@code step} is the transform's place in its pipeline (its seed). */
    public GaussianNoise(double std, int step) {
        if (!(std >= 0) || Double.isInfinite(std)) {
            throw new IllegalArgumentException("the noise standard deviation must be finite and not negative, got " + std);
        }
        this.std = std;
        this.step = step;
    }

    @Override
    public Update apply(Update update, TransformContext context) {
        if (std == 0) {
            return update;
        }
        double[] values = update.values().clone();
        Gaussian.addNoise(values, std, context.random(step));
        return update.withValues(values, update.bits());
    }
}
