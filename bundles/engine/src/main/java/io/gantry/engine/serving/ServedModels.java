package io.gantry.engine.serving;

import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.ModelInfo;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.plugin.PluginRegistry;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine's {@link InferenceService}: a set of loaded models, each served by its own {@link StepLoop} with the
 * scheduler, KV allocator and backend a {@link PluginRegistry} makes active. {@link EngineService} builds one in
 * OSGi; anything else (tests, tools) can build one from model files and a registry of its own.
 */
public final class ServedModels implements InferenceService, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(ServedModels.class.getName());
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    /**
     * A model file to serve.
     *
     * @param id   the id clients use, or {@code null} for the file name without {@code .gguf}
     * @param path the GGUF file
     */
    public record ModelFile(String id, Path path) {
    }

    /** A loaded model and its loop. */
    private record Served(ServingModel model, StepLoop loop, PromptEncoder encoder) {
    }

    private final Map<String, Served> served;

    private ServedModels(Map<String, Served> served) {
        // In configuration order: the first model is the default.
        this.served = Collections.unmodifiableMap(new LinkedHashMap<>(served));
    }

    /**
     * Opens the model files; a file that cannot be served is logged with the reason and left out, as is a second
     * model with an id already taken. The loops do not run until {@link #start()}.
     *
     * @param files   the models, the default first
     * @param plugins where every loop leases its scheduler, KV allocator and backend
     * @param limits  each loop's limits
     * @return the models that could be opened, possibly none
     */
    public static ServedModels open(List<ModelFile> files, PluginRegistry plugins, ServingLimits limits) {
        AtomicLong requestIds = new AtomicLong();
        Map<String, Served> loaded = new LinkedHashMap<>();
        for (ModelFile file : files) {
            try {
                ServingModel model = ServingModel.open(file.id(), file.path());
                if (loaded.containsKey(model.id())) {
                    model.close();
                    LOG.log(System.Logger.Level.ERROR, "Model id {0} is configured twice; serving the first",
                            model.id());
                    continue;
                }
                StepLoop loop = new StepLoop(model, plugins, limits, requestIds);
                loaded.put(model.id(), new Served(model, loop, new PromptEncoder(model)));
                LOG.log(System.Logger.Level.INFO, "Serving model {0} from {1}: {2}", model.id(), file.path(),
                        model.config());
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "Cannot serve model " + file.path() + ": " + e.getMessage());
            }
        }
        return new ServedModels(loaded);
    }

    /** @return whether no model could be opened */
    public boolean isEmpty() {
        return served.isEmpty();
    }

    /** Starts every model's step loop. */
    public void start() {
        served.values().forEach(s -> s.loop().start());
    }

    /** Stops every loop (requests inside end with an {@code UNAVAILABLE} error) and closes the model files. */
    @Override
    public void close() {
        try {
            for (Served s : served.values()) {
                s.loop().stop(STOP_TIMEOUT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            served.values().forEach(s -> s.model().close());
        }
    }

    @Override
    public List<ModelInfo> models() {
        return served.values().stream().map(s -> s.model().info()).toList();
    }

    @Override
    public int[] tokenize(String model, String text, boolean addSpecial, boolean parseSpecial)
            throws InferenceException {
        return find(model).model().tokenizer().encode(text, addSpecial, parseSpecial);
    }

    @Override
    public String detokenize(String model, int[] tokens) throws InferenceException {
        try {
            return find(model).model().tokenizer().decode(tokens);
        } catch (IllegalArgumentException e) {
            throw new InferenceException(InferenceException.Kind.INVALID_REQUEST, e.getMessage());
        }
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, TokenSink sink) throws InferenceException {
        Served s = find(request.model());
        return s.loop().submit(request, s.encoder().tokens(request.prompt()), sink);
    }

    private Served find(String model) throws InferenceException {
        Served s = served.get(model);
        if (s == null) {
            throw new InferenceException(InferenceException.Kind.UNKNOWN_MODEL, "The model '" + model
                    + "' does not exist; served: " + String.join(", ", served.keySet()));
        }
        return s;
    }
}
