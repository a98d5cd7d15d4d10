package io.gantry.api.inference;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The engine's public face: what transports (REST, and later others) call. Implemented by Gantry's
 * engine only.
 *
 * <p><b>Threading:</b> every method is thread-safe and may be called from any number of transport
 * threads. {@link #submit} never blocks on generation: it validates, enqueues and returns; tokens arrive
 * on the {@link TokenSink} from the engine's thread.
 *
 * <p><b>Lifecycle:</b> registered while at least one model is loaded and a backend is bound; it may go
 * away and come back while models are reloaded. Requests in flight when it goes away end with an
 * {@link InferenceException.Kind#UNAVAILABLE} error on their sink.
 */
@ProviderType
public interface InferenceService {

    /** @return the models being served, in configuration order; the first is the default */
    List<ModelInfo> models();

    /**
     * @param model        a model id from {@link #models()}
     * @param text         text to encode
     * @param addSpecial   whether to add the model's BOS/EOS tokens as its tokenizer does by default
     * @param parseSpecial whether special-token text (e.g. {@code <|im_start|>}) becomes its token
     * @return the token ids
     * @throws InferenceException {@link InferenceException.Kind#UNKNOWN_MODEL} for an unknown model
     */
    int[] tokenize(String model, String text, boolean addSpecial, boolean parseSpecial) throws InferenceException;

    /**
     * @param model  a model id from {@link #models()}
     * @param tokens token ids
     * @return their text
     * @throws InferenceException {@link InferenceException.Kind#UNKNOWN_MODEL} for an unknown model,
     *         {@link InferenceException.Kind#INVALID_REQUEST} for an id outside the vocabulary
     */
    String detokenize(String model, int[] tokens) throws InferenceException;

    /**
     * Queues a generation request.
     *
     * @param request what to generate
     * @param sink    receives the tokens and the end of the request, from the engine's thread
     * @return a handle to cancel the request or wait for its end
     * @throws InferenceException at once, without calling the sink, if the request is invalid, its model
     *         unknown, its prompt longer than the context, or the queue is full
     *         ({@link InferenceException.Kind#OVERLOADED})
     */
    GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException;
}
