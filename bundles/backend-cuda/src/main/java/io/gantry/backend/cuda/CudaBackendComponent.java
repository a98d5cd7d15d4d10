package io.gantry.backend.cuda;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.plugin.PluginProperties;
import java.util.Dictionary;
import java.util.Hashtable;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Starts the {@code cuda} backend and registers it as a {@link DeviceBackend} only if CUDA starts. Where it
 * cannot (no driver, no device, no PTX in the bundle, no memory) it logs why in one line and registers
 * nothing, so the engine keeps serving on the other backends (the CPU's).
 *
 * <p>Configured under PID {@value #PID}; a change restarts it. On deactivation the service is unregistered
 * first (the engine unbinds it and drains the calls it leases out), then the backend drains its own gate,
 * frees every allocation and releases the context.
 */
@Component(immediate = true, configurationPid = CudaBackendComponent.PID)
@Designate(ocd = CudaBackendComponent.Config.class)
public final class CudaBackendComponent {

    /** The configuration PID. */
    public static final String PID = "io.gantry.backend.cuda";

    /** The component's configuration. */
    @ObjectClassDefinition(name = "Gantry CUDA backend", description = "Runs transformer operations on an NVIDIA GPU.")
    public @interface Config {
        /** @return the CUDA device index */
        @AttributeDefinition(name = "Device", description = "The CUDA device index (cuda:N).")
        int device() default 0;

        /** @return the service ranking: above the CPU backend's 0, so CUDA is chosen where it started */
        @AttributeDefinition(name = "Service ranking",
                description = "Above the CPU backend's 0 makes CUDA the default where it is available.")
        int ranking() default 10;

        /** @return whether to synchronise after every operation */
        @AttributeDefinition(name = "Check each operation",
                description = "Wait for every operation and report a failing kernel at the call that launched it "
                        + "(slower; for diagnosis).")
        boolean checkEachOperation() default false;
    }

    private static final System.Logger LOG = System.getLogger(CudaBackendComponent.class.getName());

    private CudaBackend backend;
    private ServiceRegistration<DeviceBackend> registration;

    @Activate
    void activate(BundleContext context, Config config) {
        try {
            backend = CudaBackend.open(config.device(), config.checkEachOperation());
        } catch (CudaUnavailableException e) {
            LOG.log(System.Logger.Level.WARNING, "CUDA backend unavailable, not registered (Gantry serves on the "
                    + "other backends): {0}", e.getMessage());
            return;
        }
        Dictionary<String, Object> properties = new Hashtable<>();
        properties.put(PluginProperties.NAME, "cuda");
        properties.put(PluginProperties.DESCRIPTION, "CUDA kernels on " + backend.description());
        properties.put(Constants.SERVICE_RANKING, config.ranking());
        registration = context.registerService(DeviceBackend.class, backend, properties);
        LOG.log(System.Logger.Level.INFO, "CUDA backend started: {0}", backend.description());
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
        if (backend != null) {
            backend.close();
            backend = null;
        }
    }
}
