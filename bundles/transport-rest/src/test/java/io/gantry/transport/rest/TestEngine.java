package io.gantry.transport.rest;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricsSource;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.serving.DirectPlugins;
import io.gantry.engine.serving.Engine;
import io.gantry.engine.serving.ModelServer;
import io.gantry.engine.serving.ServingLimits;
import io.gantry.engine.serving.Variant;
import io.gantry.kv.paged.PagedKvAllocator;
import io.gantry.scheduler.continuous.ContinuousScheduler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.Assumptions;

/**
 * The real engine serving stories260K outside OSGi, with the CPU backend, the paged KV allocator and the
 * continuous scheduler, behind an {@link InferenceService} that records what is submitted and can slow the engine
 * down (so that a test can act while a request still runs).
 */
final class TestEngine implements InferenceService, AutoCloseable {

    static final String MODEL = "stories260K";

    final PagedKvAllocator allocator = new PagedKvAllocator(16, true);
    final List<GenerationHandle> handles = new CopyOnWriteArrayList<>();
    final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();
    /** Sleeps this long on the engine's thread for every token, when positive. */
    volatile long tokenDelayNanos;
    private final CpuBackend backend = new CpuBackend(2, true);
    private final Engine models;

    /**
     * @param maxNumSeqs most sequences in one step
     * @param maxWaiting most requests waiting
     * @param timeout    the engine's request timeout
     */
    TestEngine(int maxNumSeqs, int maxWaiting, Duration timeout) {
        Path model = stories260K();
        Scheduler scheduler = new ContinuousScheduler();
        PluginRegistry plugins = new DirectPlugins(backend, allocator, scheduler);
        try {
            models = new Engine(List.of(ModelServer.start(null, model, Variant.DEFAULT, plugins,
                    new ServingLimits(maxNumSeqs, 128, maxWaiting, 16L << 20, timeout), new AtomicLong())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    TestEngine() {
        this(8, 64, Duration.ofMinutes(1));
    }

    /** @return stories260K from the shared models folder; the calling test is skipped when it is absent */
    static Path stories260K() {
        String folder = System.getProperty("gantry.shared.models");
        Assumptions.assumeTrue(folder != null, "Skipped: system property gantry.shared.models is not set");
        Path path = Path.of(folder).resolve(MODEL + ".gguf");
        Assumptions.assumeTrue(Files.isRegularFile(path),
                () -> "Skipped: " + path + " is missing (see ../shared/models/SOURCES.md)");
        return path;
    }

    /** @return the engine's metrics, as it registers them in OSGi */
    MetricsSource metrics() {
        return models;
    }

    @Override
    public List<ModelInfo> models() {
        return models.models();
    }

    @Override
    public int[] tokenize(String model, String text, boolean addSpecial, boolean parseSpecial)
            throws InferenceException {
        return models.tokenize(model, text, addSpecial, parseSpecial);
    }

    @Override
    public String detokenize(String model, int[] tokens) throws InferenceException {
        return models.detokenize(model, tokens);
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException {
        GenerationHandle handle = models.submit(request, new TokenSink() {
            @Override
            public void onToken(GeneratedToken token) {
                long delay = tokenDelayNanos;
                if (delay > 0) {
                    LockSupport.parkNanos(delay);
                }
                sink.onToken(token);
            }

            @Override
            public void onComplete(Completion completion) {
                sink.onComplete(completion);
            }

            @Override
            public void onError(InferenceException error) {
                sink.onError(error);
            }
        });
        requests.add(request);
        handles.add(handle);
        return handle;
    }

    /** @return the text a request generates when submitted straight to the engine, without HTTP */
    String generate(GenerationRequest request) throws Exception {
        StringBuilder text = new StringBuilder();
        CompletableFuture<Completion> done = new CompletableFuture<>();
        models.submit(request, new TokenSink() {
            @Override
            public void onToken(GeneratedToken token) {
                text.append(token.text());
            }

            @Override
            public void onComplete(Completion completion) {
                done.complete(completion);
            }

            @Override
            public void onError(InferenceException error) {
                done.completeExceptionally(error);
            }
        });
        done.get(60, TimeUnit.SECONDS);
        return text.toString();
    }

    @Override
    public void close() {
        try {
            models.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            backend.close();
        }
    }
}
