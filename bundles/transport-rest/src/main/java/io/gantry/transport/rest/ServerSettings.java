package io.gantry.transport.rest;

import java.time.Duration;

/**
 * How the REST server listens and what it allows.
 *
 * @param host               the address to listen on ({@code 0.0.0.0} for every interface)
 * @param port               the port; 0 picks a free one
 * @param maxRequestBytes    the largest request body accepted; larger ones get 413
 * @param streamBufferTokens the most tokens a stream may hold for a client that does not read; past it the
 *                           request is cancelled
 * @param keepAlive          how long a stream may stay silent before a keep-alive comment is sent
 * @param jobTtl             how long a finished asynchronous job is kept
 * @param maxFinishedJobs    the most finished jobs kept
 * @param maxChoices         the most choices ({@code n} times the prompts) one request may ask for
 * @param maxConnections     the most connections open at once; more wait to be accepted
 * @param idleTimeout        how long a connection may neither send nor take bytes (a client that stopped reading
 *                           a stream) before it is closed
 */
record ServerSettings(String host, int port, long maxRequestBytes, int streamBufferTokens, Duration keepAlive,
        Duration jobTtl, int maxFinishedJobs, int maxChoices, int maxConnections, Duration idleTimeout) {

    /** The connections open at once when not configured: idle event streams cost a socket and a virtual thread. */
    static final int DEFAULT_MAX_CONNECTIONS = 10_000;
    /** The idle timeout when not configured. */
    static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);

    /** @return the settings a transport configuration asks for */
    static ServerSettings from(RestTransport.Config config) {
        return new ServerSettings(config.host(), config.port(), config.maxRequestBytes(), config.streamBufferTokens(),
                Duration.ofSeconds(config.keepAliveSeconds()), Duration.ofSeconds(config.jobTtlSeconds()),
                config.maxFinishedJobs(), config.maxChoices(), config.maxConnections(),
                Duration.ofSeconds(config.idleTimeoutSeconds()));
    }

    /** The server settings with the default connection limit and idle timeout. */
    ServerSettings(String host, int port, long maxRequestBytes, int streamBufferTokens, Duration keepAlive,
            Duration jobTtl, int maxFinishedJobs, int maxChoices) {
        this(host, port, maxRequestBytes, streamBufferTokens, keepAlive, jobTtl, maxFinishedJobs, maxChoices,
                DEFAULT_MAX_CONNECTIONS, DEFAULT_IDLE_TIMEOUT);
    }

    /** Checks every value, naming the one that is wrong. */
    ServerSettings {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host must not be empty");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
        }
        if (maxRequestBytes < 1) {
            throw new IllegalArgumentException("maxRequestBytes must be positive, got " + maxRequestBytes);
        }
        if (streamBufferTokens < 1) {
            throw new IllegalArgumentException("streamBufferTokens must be positive, got " + streamBufferTokens);
        }
        if (keepAlive.isNegative() || keepAlive.isZero()) {
            throw new IllegalArgumentException("keepAliveSeconds must be positive, got " + keepAlive);
        }
        if (jobTtl.isNegative() || jobTtl.isZero()) {
            throw new IllegalArgumentException("jobTtlSeconds must be positive, got " + jobTtl);
        }
        if (maxFinishedJobs < 1) {
            throw new IllegalArgumentException("maxFinishedJobs must be positive, got " + maxFinishedJobs);
        }
        if (maxChoices < 1) {
            throw new IllegalArgumentException("maxChoices must be positive, got " + maxChoices);
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be positive, got " + maxConnections);
        }
        if (idleTimeout.compareTo(keepAlive) <= 0) {
            // A stream waiting in the engine's queue must send its keep-alive comment before it counts as idle.
            throw new IllegalArgumentException("idleTimeoutSeconds must be more than keepAliveSeconds ("
                    + keepAlive.toSeconds() + "), got " + idleTimeout.toSeconds());
        }
    }
}
