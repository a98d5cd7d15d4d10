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
 */
record ServerSettings(String host, int port, long maxRequestBytes, int streamBufferTokens, Duration keepAlive,
        Duration jobTtl, int maxFinishedJobs, int maxChoices) {

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
    }
}
