package io.gantry.transport.rest;

import io.gantry.api.inference.InferenceException;

/**
 * A request that gets an error response: the HTTP status and the fields of the OpenAI error object
 * ({@code {"error": {"message", "type", "param", "code"}}}). The message is for the client and never holds another
 * request's data.
 */
final class ApiException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Seconds a client should wait before retrying an overloaded server. */
    static final int RETRY_OVERLOADED_SECONDS = 1;
    /** Seconds a client should wait before retrying while no model is served. */
    static final int RETRY_UNAVAILABLE_SECONDS = 5;

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final int retryAfterSeconds;

    ApiException(int status, String type, String param, String code, String message, int retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** @return a 400 for a request field that is missing, of the wrong type or out of range */
    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message, 0);
    }

    /** @return a 400 for a request that asks for something this server does not do */
    static ApiException unsupported(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "unsupported_parameter", message, 0);
    }

    /** @return a 404 for a path or resource that does not exist */
    static ApiException notFound(String message) {
        return new ApiException(404, "invalid_request_error", null, "not_found", message, 0);
    }

    /** @return a 503 while no model is served */
    static ApiException noModel() {
        return new ApiException(503, "server_error", null, "model_loading",
                "No model is being served yet (loading, or none configured); retry shortly", RETRY_UNAVAILABLE_SECONDS);
    }

    /**
     * @param error     what the engine refused or failed with
     * @param promptParam the request field holding the prompt ({@code messages} or {@code prompt}), named by a
     *                  context-length error
     * @return the error response for it
     */
    static ApiException from(InferenceException error, String promptParam) {
        String message = error.getMessage();
        return switch (error.kind()) {
            case INVALID_REQUEST -> invalid(null, message);
            case UNKNOWN_MODEL -> new ApiException(404, "invalid_request_error", "model", "model_not_found", message,
                    0);
            case CONTEXT_LENGTH_EXCEEDED -> new ApiException(400, "invalid_request_error", promptParam,
                    "context_length_exceeded", message, 0);
            case OVERLOADED -> new ApiException(429, "rate_limit_error", null, "server_overloaded", message,
                    RETRY_OVERLOADED_SECONDS);
            case UNAVAILABLE -> new ApiException(503, "server_error", null, "model_unavailable", message,
                    RETRY_UNAVAILABLE_SECONDS);
            case TIMEOUT -> timeout();
            case INTERNAL -> new ApiException(500, "server_error", null, null,
                    "The server failed while handling this request", 0);
        };
    }

    /** @return a 504 for a request whose time ran out in the engine */
    static ApiException timeout() {
        return new ApiException(504, "timeout_error", null, "timeout", "The request timed out", 0);
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String param() {
        return param;
    }

    String code() {
        return code;
    }

    /** @return seconds for a {@code Retry-After} header, or 0 for none */
    int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
