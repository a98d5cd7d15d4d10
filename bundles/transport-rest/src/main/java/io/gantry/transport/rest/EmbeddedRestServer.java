package io.gantry.transport.rest;

import io.gantry.api.cache.ResponseCache;
import io.gantry.api.inference.InferenceService;

import java.util.List;
import java.util.Map;

/**
 * The REST server outside OSGi, on an {@link InferenceService} (and optionally a {@link ResponseCache}) of the
 * caller's: for tools that run Gantry in one process, such as the transport benchmark. It is configured and behaves
 * as the {@link RestTransport} component, without the admin API (there is no plugin registry nor Config Admin, and
 * no OSGi class need be on the class path).
 * This package is private to the bundle, so only code on a plain class path reaches this class.
 */
public final class EmbeddedRestServer implements AutoCloseable {

    private final RestServer server;

    private EmbeddedRestServer(RestServer server) {
        this.server = server;
    }

    /**
     * Starts a server.
     *
     * @param settings the {@link RestTransport.Config} values to set, by name (e.g. {@code "port" -> 0}); the rest
     *                 keep their defaults
     * @param service  what it serves
     * @param cache    the response cache, or {@code null} for none
     * @return the listening server
     * @throws IllegalArgumentException naming a setting that is wrong
     */
    public static EmbeddedRestServer start(Map<String, ?> settings, InferenceService service, ResponseCache cache) {
        RestTransport.Config config = TransportConfigs.config(settings);
        if (config.adminKeys().length > 0) {
            // The admin API works on the plugin registry and Config Admin, which only exist in OSGi.
            throw new IllegalArgumentException("adminKeys: the admin API is only served inside Gantry's runtime");
        }
        AccessControl access = AccessControl.from(config, null);
        RestServer server = new RestServer(ServerSettings.from(config), () -> service, List::of, () -> cache);
        server.install(access);
        server.start();
        return new EmbeddedRestServer(server);
    }

    /** @return the port it listens on */
    public int port() {
        return server.port();
    }

    /** @return generations running now: requests being answered and jobs */
    public int activeRequests() {
        return server.activeRequests();
    }

    /** Ends open streams, cancels running requests and jobs, and stops listening. */
    @Override
    public void close() {
        server.stop();
    }
}
