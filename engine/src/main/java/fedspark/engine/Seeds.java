package fedspark.engine;

/** Every random choice takes its own seed, derived from the run seed and what it is for, never from a shared generator. */
public final class Seeds {

    public static final long SAMPLING = 1;
    public static final long BATCH_ORDER = 2;
    /** The batch order of a client's personal training (fine-tuning, Ditto's personal model), apart from its global update's. */
    public static final long PERSONAL = 4; // 3 is the logic layer's (TransformContext.TRANSFORM)
    /** The clients per-client evaluation scores when it samples them (evaluation.clients-sample). */
    public static final long CLIENT_EVALUATION = 5;

    private Seeds() {
    }

    /** A well-mixed seed from the run seed and any number of coordinates (purpose, round, client, epoch). */
    public static long mix(long seed, long... coordinates) {
        long h = mix64(seed ^ 0x9E3779B97F4A7C15L);
        for (long c : coordinates) {
            h = mix64(h ^ mix64(c + 0x632BE59BD9B4E019L));
        }
        return h;
    }

    // SplitMix64's finaliser.
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
