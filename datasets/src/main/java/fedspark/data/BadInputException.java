package fedspark.data;

/** Input that cannot be used (a corrupt file, a wrong shape, a label out of range, an impossible setting); the message names it. */
public class BadInputException extends RuntimeException {

    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Runs a Spark action; a BadInputException that a task threw comes out as itself, not wrapped in Spark's. */
    public static <T> T surfaced(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (Exception e) { // Spark's own exception is a checked one that Scala throws undeclared
            for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
                if (t instanceof BadInputException bad) {
                    throw bad;
                }
            }
            throw BadInputException.<RuntimeException>rethrow(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Exception> E rethrow(Exception e) throws E {
        throw (E) e;
    }
}
