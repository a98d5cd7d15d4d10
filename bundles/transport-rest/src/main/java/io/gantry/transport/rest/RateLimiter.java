package io.gantry.transport.rest;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.EstimationProbe;
import io.javalin.http.Context;

import java.time.Duration;

/**
 * Rate limits per caller ({@link Authenticator#CLIENT}: the key or token subject; the client address from
 * {@link ClientAddresses} when auth is off), as token buckets: requests per second, and model tokens per minute.
 *
 * <p>Model tokens are counted after the fact: a request is let in while its caller's token bucket is not empty,
 * and when it ends its actual usage (prompt plus generated tokens, over all choices) is taken from the bucket, which
 * may go into debt; the next requests wait until the debt is paid back. Counting up front would need the prompt
 * tokenized before the request is accepted and would charge for {@code max_tokens} that are mostly never
 * generated. An asynchronous job is charged the same way when it ends, to the caller that submitted it.
 *
 * <p>Buckets of callers idle for a while are dropped, so memory stays bounded by the callers of the recent past.
 */
final class RateLimiter {

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final String JOBS = "/v1/jobs/";

    private final int requestsPerSecond;
    private final long tokensPerMinute;
    private final Cache<String, Buckets> buckets;
    private final ClientAddresses addresses;

    /**
     * Limits callers without credentials by the connection's remote address.
     *
     * @see #RateLimiter(int, long, Duration, ClientAddresses)
     */
    RateLimiter(int requestsPerSecond, long tokensPerMinute, Duration idle) {
        this(requestsPerSecond, tokensPerMinute, idle, ClientAddresses.direct());
    }

    /**
     * @param requestsPerSecond requests per second per caller, 0 for no limit
     * @param tokensPerMinute   model tokens per minute per caller, 0 for no limit
     * @param idle              how long an unused caller's buckets are kept
     * @param addresses         who a caller without credentials is
     */
    RateLimiter(int requestsPerSecond, long tokensPerMinute, Duration idle, ClientAddresses addresses) {
        if (requestsPerSecond < 0) {
            throw new IllegalArgumentException("requestsPerSecond must not be negative, got " + requestsPerSecond);
        }
        if (tokensPerMinute < 0) {
            throw new IllegalArgumentException("tokensPerMinute must not be negative, got " + tokensPerMinute);
        }
        if (idle.isNegative() || idle.isZero()) {
            throw new IllegalArgumentException("rateLimitIdleSeconds must be positive, got " + idle);
        }
        this.requestsPerSecond = requestsPerSecond;
        this.tokensPerMinute = tokensPerMinute;
        this.buckets = Caffeine.newBuilder().expireAfterAccess(idle).build();
        this.addresses = addresses;
    }

    /** @return whether any limit is set */
    boolean enabled() {
        return requestsPerSecond > 0 || tokensPerMinute > 0;
    }

    /** @return how many callers have buckets now */
    long callers() {
        buckets.cleanUp();
        return buckets.estimatedSize();
    }

    /**
     * The before-handler, after {@link Authenticator#check}: takes one request from the caller's bucket, and refuses
     * a caller in token debt (except on {@code /v1/jobs/}, which generates nothing).
     *
     * @throws ApiException 429 with the seconds to wait when a bucket is empty
     */
    void admit(Context ctx) {
        if (!limited(ctx)) {
            return;
        }
        Buckets caller = buckets.get(client(ctx), key -> new Buckets());
        // Reading or cancelling a job uses no tokens, and a caller in debt for a job's tokens must get its result.
        if (caller.tokens != null && !ctx.path().startsWith(JOBS)) {
            EstimationProbe probe = caller.tokens.estimateAbilityToConsume(1);
            if (!probe.canBeConsumed()) {
                throw exceeded("tokens per minute", probe.getNanosToWaitForRefill());
            }
        }
        if (caller.requests != null) {
            ConsumptionProbe probe = caller.requests.tryConsumeAndReturnRemaining(1);
            if (!probe.isConsumed()) {
                throw exceeded("requests per second", probe.getNanosToWaitForRefill());
            }
        }
    }

    /**
     * The after-handler: takes the model tokens the request used from the caller's bucket, once its generation has
     * ended (at once for a request answered whole or streamed, when the job ends for an asynchronous one).
     */
    void charge(Context ctx) {
        Generation generation = ctx.attribute(Generation.ATTRIBUTE);
        if (generation == null || tokensPerMinute == 0 || !limited(ctx)) {
            return;
        }
        String client = client(ctx);
        generation.whenEnded(() -> {
            Generation.Usage usage = generation.usage();
            long used = (long) usage.promptTokens() + usage.completionTokens();
            if (used > 0) {
                // A job may outlast the caller's idle time: its debt starts a fresh bucket then.
                buckets.get(client, key -> new Buckets()).tokens.consumeIgnoringRateLimits(used);
            }
        });
    }

    /** Health checks, metrics and admin calls are not limited. */
    private static boolean limited(Context ctx) {
        String path = ctx.path();
        return path.startsWith("/v1/") || path.equals("/tokenize") || path.equals("/detokenize");
    }

    private String client(Context ctx) {
        String client = ctx.attribute(Authenticator.CLIENT);
        return client != null ? client : "ip:" + addresses.of(ctx);
    }

    private static ApiException exceeded(String limit, long nanosToWait) {
        int seconds = (int) Math.max(1, Math.min(Integer.MAX_VALUE,
                (nanosToWait + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND));
        return new ApiException(429, "rate_limit_error", null, "rate_limit_exceeded",
                "Rate limit reached for " + limit + "; retry in " + seconds + " s", seconds);
    }

    /** One caller's buckets. */
    private final class Buckets {
        final Bucket requests = requestsPerSecond == 0 ? null : Bucket.builder()
                .addLimit(limit -> limit.capacity(requestsPerSecond).refillGreedy(requestsPerSecond,
                        Duration.ofSeconds(1)))
                .build();
        final Bucket tokens = tokensPerMinute == 0 ? null : Bucket.builder()
                .addLimit(limit -> limit.capacity(tokensPerMinute).refillGreedy(tokensPerMinute,
                        Duration.ofMinutes(1)))
                .build();
    }
}
