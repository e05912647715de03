package fedspark.engine.state;

/**
 * One client's durable state as its update sees it (SCAFFOLD's c_i; later error-feedback residuals, personal
 * models): named vectors as the client left them the last round it trained, or none before its first.
 */
public interface ClientState {

    /** The vector stored under {@code name}, or null when the client has none. */
    float[] get(String name);

    /** Stores {@code values} under {@code name} for the client's next round. */
    void put(String name, float[] values);
}
