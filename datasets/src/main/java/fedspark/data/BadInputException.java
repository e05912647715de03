package fedspark.data;

/** Input that cannot be used (a corrupt file, a wrong shape, a label out of range, an impossible setting); the message names it. */
public class BadInputException extends RuntimeException {

    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
