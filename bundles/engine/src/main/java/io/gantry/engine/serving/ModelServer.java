package io.gantry.engine.serving;

import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.plugin.PluginRegistry;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One model being served: the opened file, its prompt encoder and the {@link StepLoop} that runs its requests
 * with the plugins a {@link PluginRegistry} makes active. {@link Engine} puts several together behind the
 * plugin API's {@code InferenceService}; the OSGi component {@link EngineService} builds them from its
 * configuration, and code outside OSGi (the command-line tools, tests) builds them directly.
 *
 * <p>Thread-safe. {@link #close()} stops the loop (requests inside end with an {@code UNAVAILABLE} error) and
 * closes the file.
 */
public final class ModelServer implements AutoCloseable {

    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final ServingModel model;
    private final Variant variant;
    private final PromptEncoder encoder;
    private final StepLoop loop;

    private ModelServer(ServingModel model, Variant variant, PluginRegistry plugins, ServingLimits limits,
            AtomicLong requestIds) {
        this.model = model;
        this.variant = variant;
        this.encoder = new PromptEncoder(model);
        this.loop = new StepLoop(model, plugins, limits, requestIds, variant.name());
    }

    /**
     * Opens a model and starts its step loop.
     *
     * @param id         the id clients use, or {@code null} for the file name without {@code .gguf}
     * @param path       the GGUF file
     * @param variant    the A/B variant this server serves ({@link Variant#DEFAULT} without A/B)
     * @param plugins    where the scheduler, KV allocator and backend come from, at every step; the KV allocator
     *                   instance must be this server's alone
     * @param limits     admission and step limits
     * @param requestIds the source of request ids, shared by the servers of one engine so that ids are unique
     * @return the running server
     * @throws IOException if the file cannot be read or served (the message says why)
     */
    public static ModelServer start(String id, Path path, Variant variant, PluginRegistry plugins,
            ServingLimits limits, AtomicLong requestIds) throws IOException {
        ServingModel model = ServingModel.open(id, path);
        try {
            int sequence = limits.sequenceLimit(model.config().contextLength());
            int slots = model.kvSlots(limits.kvCacheBytes(), limits.maxNumSeqs(), limits.kvCacheType());
            if (slots < sequence) {
                throw new IllegalArgumentException("a KV cache of " + (limits.kvCacheBytes() >> 20) + " MiB holds "
                        + slots + " tokens of this model, less than one sequence of " + sequence + " tokens; raise "
                        + "kvCacheMb to at least "
                        + Math.ceilDiv(sequence * model.kvBytesPerSlot(limits.kvCacheType()), 1 << 20)
                        + " or set maxModelLen to " + slots + " or less");
            }
            ModelServer server = new ModelServer(model, variant, plugins, limits, requestIds);
            server.loop.start();
            return server;
        } catch (RuntimeException e) {
            model.close();
            throw new IOException("Cannot serve " + path + ": " + e.getMessage(), e);
        }
    }

    /** @return the id clients use */
    public String id() {
        return model.id();
    }

    /** @return the A/B variant this server serves */
    public Variant variant() {
        return variant;
    }

    /** @return what the model is */
    public ModelInfo info() {
        return model.info();
    }

    /** @return the model's configuration, as a line for logs */
    public String describe() {
        return model.config().toString();
    }

    /** See {@code InferenceService#tokenize}. */
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return model.tokenizer().encode(text, addSpecial, parseSpecial);
    }

    /** See {@code InferenceService#detokenize}. */
    public String detokenize(int[] tokens) throws InferenceException {
        try {
            return model.tokenizer().decode(tokens);
        } catch (IllegalArgumentException e) {
            throw new InferenceException(InferenceException.Kind.INVALID_REQUEST, e.getMessage());
        }
    }

    /** See {@code InferenceService#submit}; the request's model is not checked here. */
    public GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException {
        return loop.submit(request, encoder.tokens(request.prompt()), sink);
    }

    /** @return the loop's metrics, labelled with this model */
    public List<MetricFamily> metrics() {
        return loop.metrics().collect();
    }

    @Override
    public void close() throws InterruptedException {
        try {
            loop.stop(STOP_TIMEOUT);
        } finally {
            model.close();
        }
    }
}
