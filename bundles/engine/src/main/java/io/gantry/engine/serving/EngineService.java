package io.gantry.engine.serving;

import io.gantry.api.inference.InferenceService;
import io.gantry.api.plugin.PluginRegistry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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

/**
 * Provides the engine's {@link InferenceService} in OSGi: loads the configured models into {@link ServedModels},
 * each served from its own {@link StepLoop} with the scheduler, KV allocator and backend the
 * {@link PluginRegistry} makes active.
 *
 * <p>Configured under PID {@value #PID} ({@link Config}); a change restarts it (requests inside end with an
 * {@code UNAVAILABLE} error). Models load on a thread of their own, and the service is registered only once
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
         *         for every {@code *.gguf} in {@code models/} of the Gantry home
         */
        @AttributeDefinition(name = "Models", description = "GGUF files to serve, each PATH or ID=PATH, "
                + "comma-separated; the first is the default. Empty: every *.gguf in the models/ folder of the "
                + "Gantry home.")
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
        int kvCacheMb() default 256;

        /** @return the default request timeout in seconds */
        @AttributeDefinition(name = "requestTimeoutSeconds",
                description = "How long a request may take in all when it does not say.")
        int requestTimeoutSeconds() default 600;
    }

    private static final System.Logger LOG = System.getLogger(EngineService.class.getName());
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final PluginRegistry plugins;
    private final ServingLimits limits;
    private final List<String> modelSpecs;
    private final BundleContext context;
    /** Set once by the loader thread, before the service is registered. */
    private volatile ServedModels served;
    private volatile boolean closed;
    private ServiceRegistration<InferenceService> registration;
    private final Thread loader;

    /**
     * @param plugins the active plugins
     * @param config  the configuration
     * @param context the engine bundle's context, to register the service once models are loaded
     */
    @Activate
    public EngineService(@Reference PluginRegistry plugins, Config config, BundleContext context) {
        this.plugins = plugins;
        this.limits = new ServingLimits(config.maxNumSeqs(), config.maxNumBatchedTokens(), config.maxWaiting(),
                (long) config.kvCacheMb() << 20, Duration.ofSeconds(config.requestTimeoutSeconds()));
        this.modelSpecs = List.of(config.models());
        this.context = context;
        this.loader = new Thread(this::load, "gantry-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        ServedModels loaded = ServedModels.open(modelFiles(), plugins, limits);
        synchronized (this) {
            if (closed || loaded.isEmpty()) {
                loaded.close();
                if (loaded.isEmpty() && !closed) {
                    LOG.log(System.Logger.Level.WARNING, "No model to serve: configure models in PID " + PID
                            + " or put a .gguf file into " + modelFolder());
                }
                return;
            }
            loaded.start();
            served = loaded;
            registration = context.registerService(InferenceService.class, loaded, null);
        }
    }

    private List<ServedModels.ModelFile> modelFiles() {
        List<ServedModels.ModelFile> specs = new ArrayList<>();
        if (modelSpecs.isEmpty()) {
            Path folder = modelFolder();
            try (var files = Files.list(folder)) {
                files.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted()
                        .forEach(p -> specs.add(new ServedModels.ModelFile(null, p)));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "No models folder at " + folder, e);
            }
            return specs;
        }
        // A .cfg file gives one string: split it on commas.
        for (String spec : modelSpecs.stream().flatMap(s -> Stream.of(s.split(","))).filter(s -> !s.isBlank())
                .toList()) {
            int equals = spec.indexOf('=');
            specs.add(equals > 0
                    ? new ServedModels.ModelFile(spec.substring(0, equals).trim(),
                            Path.of(spec.substring(equals + 1).trim()))
                    : new ServedModels.ModelFile(null, Path.of(spec.trim())));
        }
        return specs;
    }

    private Path modelFolder() {
        String home = context.getProperty("gantry.home");
        return Path.of(home != null ? home : ".").resolve("models");
    }

    /** Unregisters the service, stops every loop (requests inside end with UNAVAILABLE) and closes the files. */
    @Deactivate
    void deactivate() throws InterruptedException {
        synchronized (this) {
            closed = true;
            if (registration != null) {
                registration.unregister();
                registration = null;
            }
        }
        loader.join(STOP_TIMEOUT.toMillis());
        if (served != null) {
            served.close();
        }
    }
}
