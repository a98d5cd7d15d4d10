package io.gantry.transport.rest;

import io.gantry.api.cache.ResponseCache;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.metrics.MetricsSource;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.transport.Transport;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The REST transport: serves the OpenAI-compatible HTTP API on the engine's {@link InferenceService}. It listens
 * from activation on, whether or not a model is served yet: health checks answer 503 and generation requests 503
 * until the engine registers its service, and again while the engine reloads.
 *
 * <p>Configured under PID {@value #PID} ({@link Config}); a change restarts the server, which ends the streams
 * and cancels the requests and jobs it was running.
 */
@Component(name = RestTransport.PID, configurationPid = RestTransport.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true)
@Designate(ocd = RestTransport.Config.class)
public final class RestTransport implements Transport {

    /** The configuration PID. */
    public static final String PID = "io.gantry.transport.rest";

    /** The transport's configuration. */
    @ObjectClassDefinition(name = "Gantry REST transport",
            description = "Where the OpenAI-compatible HTTP API listens, and its limits.")
    public @interface Config {
        /** @return the address to listen on */
        @AttributeDefinition(name = "host", description = "The address to listen on; 0.0.0.0 for every interface.")
        String host() default "0.0.0.0";

        /** @return the port */
        @AttributeDefinition(name = "port", description = "The port to listen on; 0 picks a free one.")
        int port() default 8080;

        /** @return the largest request body in bytes */
        @AttributeDefinition(name = "maxRequestBytes",
                description = "The largest request body accepted, in bytes; larger ones get 413.")
        long maxRequestBytes() default 4L << 20;

        /** @return the most tokens a stream holds for a client that does not read */
        @AttributeDefinition(name = "streamBufferTokens", description = "The most tokens a stream holds for a "
                + "client that does not read them; past it the request is cancelled.")
        int streamBufferTokens() default 4096;

        /** @return seconds of silence before a stream sends a keep-alive comment */
        @AttributeDefinition(name = "keepAliveSeconds",
                description = "Seconds a stream may stay silent before a keep-alive comment is sent.")
        int keepAliveSeconds() default 15;

        /** @return seconds a finished job is kept */
        @AttributeDefinition(name = "jobTtlSeconds", description = "How long a finished asynchronous job is kept.")
        int jobTtlSeconds() default 3600;

        /** @return the most finished jobs kept */
        @AttributeDefinition(name = "maxFinishedJobs",
                description = "The most finished jobs kept; the least recently used go first.")
        int maxFinishedJobs() default 10_000;

        /** @return the most choices one request may ask for */
        @AttributeDefinition(name = "maxChoices",
                description = "The most choices (n times the prompts) one request may ask for.")
        int maxChoices() default 16;

        /** @return the most connections open at once */
        @AttributeDefinition(name = "maxConnections", description = "The most connections open at once (event "
                + "streams included); more wait to be accepted.")
        int maxConnections() default ServerSettings.DEFAULT_MAX_CONNECTIONS;

        /** @return seconds a connection may be idle */
        @AttributeDefinition(name = "idleTimeoutSeconds", description = "How long a connection may neither send "
                + "nor take bytes (a client that stopped reading a stream) before it is closed; more than "
                + "keepAliveSeconds.")
        int idleTimeoutSeconds() default 60;

        /** @return what API routes ask for */
        @AttributeDefinition(name = "authMode", description = "none (default), apiKey, jwt, apiKeyOrJwt, or both "
                + "(an API key in X-API-Key and a JWT in Authorization: Bearer).")
        String authMode() default "none";

        /** @return the API keys' hashes */
        @AttributeDefinition(name = "apiKeys", description = "API keys as sha256:<hex> (printf %s KEY | sha256sum), "
                + "comma-separated.")
        String[] apiKeys() default {};

        /** @return the admin keys' hashes */
        @AttributeDefinition(name = "adminKeys", description = "Admin keys for /admin/, as sha256:<hex>, "
                + "comma-separated; none turns the admin API off.")
        String[] adminKeys() default {};

        /** @return the HS256 secret */
        @AttributeDefinition(name = "jwtHmacSecret", description = "The HS256 shared secret, at least 32 bytes.",
                type = AttributeType.PASSWORD)
        String jwtHmacSecret() default "";

        /** @return the RS256 public key file */
        @AttributeDefinition(name = "jwtPublicKeyFile", description = "A PEM file with the RS256 public key.")
        String jwtPublicKeyFile() default "";

        /** @return the RS256 JWKS file */
        @AttributeDefinition(name = "jwtJwksFile", description = "A JWKS file with the RS256 public keys.")
        String jwtJwksFile() default "";

        /** @return the issuer tokens must have */
        @AttributeDefinition(name = "jwtIssuer", description = "The iss every token must have; empty for any.")
        String jwtIssuer() default "";

        /** @return the audience tokens must include */
        @AttributeDefinition(name = "jwtAudience", description = "The aud every token must include; empty for any.")
        String jwtAudience() default "";

        /** @return the clock skew allowed */
        @AttributeDefinition(name = "jwtClockSkewSeconds",
                description = "How far the token issuer's clock may differ from this server's, in seconds.")
        int jwtClockSkewSeconds() default 60;

        /** @return whether /metrics needs no credentials */
        @AttributeDefinition(name = "metricsOpen", description = "Whether /metrics is open to all.")
        boolean metricsOpen() default true;

        /** @return requests per second per caller */
        @AttributeDefinition(name = "requestsPerSecond",
                description = "Requests per second per API key (or client address with no auth); 0 for no limit.")
        int requestsPerSecond() default 0;

        /** @return model tokens per minute per caller */
        @AttributeDefinition(name = "tokensPerMinute", description = "Prompt plus generated tokens per minute per "
                + "API key (or client address with no auth); 0 for no limit.")
        long tokensPerMinute() default 0;

        /** @return the proxies whose X-Forwarded-For names the client */
        @AttributeDefinition(name = "trustedProxies", description = "IP addresses or CIDR ranges (10.0.0.0/8) of "
                + "proxies whose X-Forwarded-For header names the client for the rate limits, comma-separated; none: "
                + "the header is ignored and the connection's address counts.")
        String[] trustedProxies() default {};

        /** @return seconds an idle caller's buckets are kept */
        @AttributeDefinition(name = "rateLimitIdleSeconds",
                description = "How long the rate-limit state of a caller that sends nothing is kept.")
        int rateLimitIdleSeconds() default 600;
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile InferenceService inference;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    private volatile List<MetricsSource> metricsSources = List.of();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ResponseCache responseCache;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile PluginRegistry plugins;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ConfigurationAdmin configurationAdmin;

    private final RestServer server;

    /**
     * Starts the server.
     *
     * @param config  the configuration
     * @param context this bundle's context, for the admin API's list of bundles
     */
    @Activate
    public RestTransport(Config config, BundleContext context) {
        // Built first: a wrong auth or limit setting stops the activation before anything listens.
        AccessControl access = AccessControl.from(config, new AdminEndpoints(() -> plugins, () -> bundles(context),
                () -> configurationAdmin));
        this.server = new RestServer(ServerSettings.from(config), () -> inference, () -> metricsSources,
                () -> responseCache);
        server.install(access);
        server.start();
    }

    private static List<AdminEndpoints.BundleRow> bundles(BundleContext context) {
        return Arrays.stream(context.getBundles()).map(bundle -> new AdminEndpoints.BundleRow(bundle.getBundleId(),
                bundle.getSymbolicName(), bundle.getVersion().toString(), state(bundle.getState()))).toList();
    }

    private static String state(int state) {
        return switch (state) {
            case Bundle.UNINSTALLED -> "UNINSTALLED";
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.ACTIVE -> "ACTIVE";
            default -> "UNKNOWN(" + state + ")";
        };
    }

    /** Stops the server: open streams end, running requests and jobs are cancelled. */
    @Deactivate
    void deactivate() {
        server.stop();
    }

    /** @return every route the server registered, as {@code METHOD /path/{param}} */
    Set<String> registeredRoutes() {
        return server.registeredRoutes();
    }

    @Override
    public String protocol() {
        return "rest";
    }

    @Override
    public List<String> endpoints() {
        return List.of(server.endpoint());
    }

    @Override
    public int activeRequests() {
        return server.activeRequests();
    }
}
