package io.gantry.api.inference;

import java.util.concurrent.CompletionStage;
import org.osgi.annotation.versioning.ProviderType;

/** A submitted request. Implemented by the engine; thread-safe. */
@ProviderType
public interface GenerationHandle {

    /** @return the engine's id for the request */
    long requestId();

    /**
     * Cancels the request. Its KV space is freed in the engine's next step, and its sink then receives
     * {@link TokenSink#onComplete} with {@link FinishReason#CANCELLED}. Idempotent; does nothing once the
     * request has ended.
     */
    void cancel();

    /** @return completes when the request ends, with the same value or error its sink receives */
    CompletionStage<Completion> completion();
}
