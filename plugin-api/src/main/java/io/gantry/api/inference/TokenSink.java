package io.gantry.api.inference;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Receives one request's output. Implemented by transports.
 *
 * <p><b>Threading:</b> called from the engine's step thread, in order, never concurrently for one
 * request. Implementations must return quickly and must not block (hand the data to a transport
 * thread or a non-blocking write): a slow sink slows every request. An exception thrown by a sink
 * cancels that request only.
 *
 * <p>For each request the engine calls {@link #onToken} zero or more times, then exactly one of
 * {@link #onComplete} or {@link #onError}.
 */
@ConsumerType
public interface TokenSink {

    /** @param token the next generated token */
    void onToken(GeneratedToken token);

    /** @param completion how the request ended */
    void onComplete(Completion completion);

    /** @param error why the request failed after it was accepted */
    void onError(InferenceException error);
}
