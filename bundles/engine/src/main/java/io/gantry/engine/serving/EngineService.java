package io.gantry.engine.serving;

import io.gantry.api.inference.InferenceService;
import io.gantry.api.metrics.MetricsSource;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.engine.plugins.LoopPlugins;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * Registers the engine's {@link InferenceService} and {@link MetricsSource} (an {@link Engine}): loads the
 * configured models and serves each from its own {@link ModelServer}, with the scheduler, KV allocator and
 * backend the {@link PluginRegistry} makes active.
 *
 * <p>Configured under PID {@value #PID} ({@link Config}); a change restarts it (requests inside end with an
 * {@code UNAVAILABLE} error). Models load on a thread of their own, and the services are registered only once
 * they have: transports see no {@link InferenceService} while models load, which is what their health checks
 * report. A model that cannot be loaded is logged with the reason and left out.
 */
@Component(name = EngineService.PID, service = {}, immediate = true, configurationPid = EngineService.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = EngineService.Config.class)
public final class EngineService {

    /** The configuration PID. */
    public static final String PID = "io.gantry.engine";

    /**
     * The engine's configuration. Keys are the method names (DS would turn {@code _} into {@code .}); they mirror
     * vLLM's options: {@code maxNumSeqs} is {@code max_num_seqs}, and so on.
     */
    @ObjectClassDefinition(name = "Gantry engine", description = "The models to serve and the step loop's limits.")
    public @interface Config {
        /**
         * @return model files, each {@code PATH} or {@code ID=PATH} (several in one value: comma-separated); empty
         *         for the launcher's {@code --model} files, else every {@code *.gguf} in {@code models/} of the
         *         Gantry home
         */
        @AttributeDefinition(name = "Models", description = "GGUF files to serve, each PATH or ID=PATH, "
                + "comma-separated; the first is the default. Empty: the files the launcher was given with "
                + "--model, else every *.gguf in the models/ folder of the Gantry home.")
        String[] models() default {};

        /** @return most sequences in one step */
        @AttributeDefinition(name = "maxNumSeqs", description = "Most sequences in one step.")
        int maxNumSeqs() default 16;

        /** @return most tokens in one step */
        @AttributeDefinition(name = "maxNumBatchedTokens",
                description = "Most tokens in one step, prefill and decode together; bounds prefill chunks.")
        int maxNumBatchedTokens() default 512;

        /** @return most accepted requests not yet running */
        @AttributeDefinition(name = "maxWaiting",
                description = "Most accepted requests not yet running; beyond it requests are refused (overloaded).")
        int maxWaiting() default 256;

        /** @return KV cache memory per model in MiB */
        @AttributeDefinition(name = "kvCacheMb", description = "Memory for each model's KV pool, in MiB.")
        int kvCacheMb() default 1024;

        /** @return the KV pool's element type */
        @AttributeDefinition(name = "kvCacheType", description = "How the KV pool stores keys and values: f16 "
                + "(as llama.cpp's default cache type), or f32 (twice the memory per token). A backend whose pools "
                + "cannot hold f16 uses f32.", options = {@Option(label = "f16", value = "f16"),
                        @Option(label = "f32", value = "f32")})
        String kvCacheType() default "f16";

        /** @return the longest sequence to serve, 0 for the model's context */
        @AttributeDefinition(name = "maxModelLen", description = "The longest sequence (prompt plus output) to "
                + "serve; 0 for the model's context. A contiguous KV allocator reserves this much per sequence.")
        int maxModelLen() default 0;

        /** @return the A/B variants, or blank for none */
        @AttributeDefinition(name = "Variants", description = "An online A/B comparison: comma-separated "
                + "NAME:WEIGHT:SCHEDULER[+ALLOCATOR] (* keeps the active plugin), e.g. "
                + "'control:50:continuous+paged, test:50:priority+contiguous'. Each variant serves its share of "
                + "every model's requests with its own KV pool; metrics carry its name. Blank: no comparison.")
        String variants() default "";

        /** @return where the default model is downloaded from, or blank for no download */
        @AttributeDefinition(name = "defaultModelUrl", description = "With no models configured and no .gguf in "
                + "the models/ folder of the Gantry home, this model is downloaded once into defaultModelCache and "
                + "served. Blank: never download.")
        String defaultModelUrl() default DefaultModel.SOURCE;

        /** @return the SHA-256 the downloaded default model must have */
        @AttributeDefinition(name = "defaultModelSha256",
                description = "The SHA-256 (hex) the downloaded default model must have; a file that differs is "
                        + "deleted.")
        String defaultModelSha256() default DefaultModel.SHA256;

        /** @return where downloaded models are kept, or blank for the default */
        @AttributeDefinition(name = "defaultModelCache", description = "Where the default model is kept. Blank: "
                + "$GANTRY_CACHE/models, or ~/.cache/gantry/models without GANTRY_CACHE.")
        String defaultModelCache() default "";

        /** @return the default request timeout in seconds */
        @AttributeDefinition(name = "requestTimeoutSeconds",
                description = "How long a request may take in all when it does not say.")
        int requestTimeoutSeconds() default 600;
    }

    private static final System.Logger LOG = System.getLogger(EngineService.class.getName());
    /** How long downloading the default model may take. */
    private static final Duration DOWNLOAD_TIMEOUT = Duration.ofMinutes(10);

    private final PluginRegistry plugins;
    private final ServingLimits limits;
    private final List<String> modelSpecs;
    private final List<Variant> variants;
    private final Config config;
    private final BundleContext context;
    /** Whether the loader is downloading the default model, which deactivation may interrupt. */
    private volatile boolean downloading;
    /** The loops' plugin views, closed after the loops stopped. Guarded by this. */
    private final List<LoopPlugins> loopPlugins = new ArrayList<>();
    private final Thread loader;
    /** Guarded by this. */
    private boolean closed;
    /** Guarded by this. */
    private Engine engine;
    /** Guarded by this. */
    private ServiceRegistration<?> registration;

    /**
     * @param plugins the active plugins
     * @param config  the configuration
     * @param context the engine bundle's context, to register the services once models are loaded
     */
    @Activate
    public EngineService(@Reference PluginRegistry plugins, Config config, BundleContext context) {
        this.plugins = plugins;
        this.limits = new ServingLimits(config.maxNumSeqs(), config.maxNumBatchedTokens(), config.maxWaiting(),
                (long) config.kvCacheMb() << 20, Duration.ofSeconds(config.requestTimeoutSeconds()),
                config.maxModelLen(), ServingLimits.kvCacheType(config.kvCacheType()));
        this.modelSpecs = List.of(config.models());
        this.variants = Variant.parse(config.variants());
        this.config = config;
        this.context = context;
        this.loader = new Thread(this::load, "gantry-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        List<ModelServer> servers = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        AtomicLong requestIds = new AtomicLong();
        List<ModelSpec> specs;
        try {
            specs = modelSpecs();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        for (ModelSpec spec : specs) {
            try {
                List<ModelServer> modelServers = new ArrayList<>();
                try {
                    for (Variant variant : variants) {
                        modelServers.add(ModelServer.start(spec.id(), spec.path(), variant, loopPlugins(variant),
                                limits, requestIds));
                    }
                } catch (IOException | RuntimeException e) {
                    for (ModelServer server : modelServers) {
                        server.close();
                    }
                    throw e;
                }
                ModelServer first = modelServers.getFirst();
                if (!ids.add(first.id())) {
                    LOG.log(System.Logger.Level.ERROR, "Model id {0} is configured twice; serving the first",
                            first.id());
                    for (ModelServer server : modelServers) {
                        server.close();
                    }
                    continue;
                }
                servers.addAll(modelServers);
                LOG.log(System.Logger.Level.INFO, "Serving model {0} from {1} ({2}): {3}", first.id(), spec.path(),
                        variants.equals(List.of(Variant.DEFAULT)) ? "no A/B variants" : "variants " + variants,
                        first.describe());
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "Cannot serve model " + spec.path() + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        synchronized (this) {
            if (!closed && !servers.isEmpty()) {
                engine = new Engine(servers);
                registration = context.registerService(
                        new String[] {InferenceService.class.getName(), MetricsSource.class.getName()}, engine, null);
                return;
            }
        }
        if (servers.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "No model to serve: configure models in PID " + PID
                    + " or put a .gguf file into " + modelFolder());
        }
        for (ModelServer server : servers) {
            try {
                server.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private record ModelSpec(String id, Path path) {
    }

    /** @return the plugins of one more loop: its own allocator instance, the variant's named plugins */
    private synchronized LoopPlugins loopPlugins(Variant variant) {
        LoopPlugins loop = new LoopPlugins(plugins, context, variant.scheduler(), variant.allocator());
        loopPlugins.add(loop);
        return loop;
    }

    private List<ModelSpec> modelSpecs() throws InterruptedException {
        List<ModelSpec> specs = new ArrayList<>();
        // The launcher's --model options, when the configuration names none.
        String launched = context.getProperty("gantry.models");
        List<String> named = !modelSpecs.isEmpty() || launched == null ? modelSpecs : List.of(launched);
        if (named.isEmpty()) {
            Path folder = modelFolder();
            try (var files = Files.list(folder)) {
                files.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted()
                        .forEach(p -> specs.add(new ModelSpec(null, p)));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "No models folder at " + folder, e);
            }
            if (specs.isEmpty()) {
                defaultModel(folder).ifPresent(path -> specs.add(new ModelSpec(null, path)));
            }
            return specs;
        }
        // A .cfg file gives one string: split it on commas.
        for (String spec : named.stream().flatMap(s -> Stream.of(s.split(","))).filter(s -> !s.isBlank())
                .toList()) {
            int equals = spec.indexOf('=');
            specs.add(equals > 0 ? new ModelSpec(spec.substring(0, equals).trim(),
                    Path.of(spec.substring(equals + 1).trim())) : new ModelSpec(null, Path.of(spec.trim())));
        }
        return specs;
    }

    /**
     * @return the default model, from the cache or downloaded now; empty (with the reason and what to do logged)
     *         when it cannot be had, and always outside a Gantry home (tests, embedded use), which never download
     */
    private Optional<Path> defaultModel(Path modelFolder) throws InterruptedException {
        if (context.getProperty("gantry.home") == null || config.defaultModelUrl().isBlank()) {
            return Optional.empty();
        }
        downloading = true;
        try {
            return Optional.of(new DefaultModel(config.defaultModelUrl(), config.defaultModelSha256(),
                    DefaultModel.cacheFolder(config.defaultModelCache()), modelFolder, DOWNLOAD_TIMEOUT).obtain());
        } catch (DefaultModel.UnavailableException e) {
            LOG.log(System.Logger.Level.WARNING, e.getMessage());
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.ERROR, "No default model: " + e.getMessage() + " (PID " + PID + ")");
        } finally {
            downloading = false;
        }
        return Optional.empty();
    }

    private Path modelFolder() {
        String home = context.getProperty("gantry.home");
        return Path.of(home != null ? home : ".").resolve("models");
    }

    /** Unregisters the services, then stops every model's loop (requests inside end with UNAVAILABLE). */
    @Deactivate
    void deactivate() throws InterruptedException {
        Engine stopping;
        synchronized (this) {
            closed = true;
            if (registration != null) {
                registration.unregister();
                registration = null;
            }
            stopping = engine;
            engine = null;
        }
        if (downloading) {
            // A download is the one step of loading that may take minutes; stopping must not wait for it.
            loader.interrupt();
        }
        loader.join();
        if (stopping != null) {
            stopping.close();
        }
        synchronized (this) {
            loopPlugins.forEach(LoopPlugins::close);
            loopPlugins.clear();
        }
    }
}
