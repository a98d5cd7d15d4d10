package io.gantry.transport.rest;

import io.gantry.api.cache.ResponseCache;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.metrics.MetricsSource;
import io.gantry.api.transport.Transport;

import java.time.Duration;
import java.util.List;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
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
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile InferenceService inference;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    private volatile List<MetricsSource> metricsSources = List.of();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ResponseCache responseCache;

    private final RestServer server;

    /**
     * Starts the server.
     *
     * @param config the configuration
     */
    @Activate
    public RestTransport(Config config) {
        this.server = new RestServer(new ServerSettings(config.host(), config.port(), config.maxRequestBytes(),
                config.streamBufferTokens(), Duration.ofSeconds(config.keepAliveSeconds()),
                Duration.ofSeconds(config.jobTtlSeconds()), config.maxFinishedJobs(), config.maxChoices()),
                () -> inference, () -> metricsSources, () -> responseCache);
        server.start();
    }

    /** Stops the server: open streams end, running requests and jobs are cancelled. */
    @Deactivate
    void deactivate() {
        server.stop();
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
