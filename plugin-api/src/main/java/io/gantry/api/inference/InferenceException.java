package io.gantry.api.inference;

/**
 * A request the engine refused or could not finish, with a {@link Kind} that transports map to a status
 * (for HTTP: 400, 404, 429, 503, 504, 500). The message is meant for the client and never contains another
 * request's data.
 */
public class InferenceException extends Exception {

    private static final long serialVersionUID = 1L;

    /** What went wrong, in terms a transport can map to a status. */
    public enum Kind {
        /** The request is malformed or a value is out of range. */
        INVALID_REQUEST,
        /** The model id is not served. */
        UNKNOWN_MODEL,
        /** Prompt plus {@code max_tokens} do not fit the model's context. */
        CONTEXT_LENGTH_EXCEEDED,
        /** The admission queue is full; retry later. */
        OVERLOADED,
        /** No model or backend is available right now (loading, or being swapped out). */
        UNAVAILABLE,
        /** The request's timeout passed. */
        TIMEOUT,
        /** A fault inside Gantry. */
        INTERNAL
    }

    private final Kind kind;

    /**
     * @param kind    what went wrong
     * @param message a message for the client
     */
    public InferenceException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    /**
     * @param kind    what went wrong
     * @param message a message for the client
     * @param cause   the underlying fault
     */
    public InferenceException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    /** @return what went wrong */
    public Kind kind() {
        return kind;
    }
}
