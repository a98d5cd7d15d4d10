package io.gantry.transport.rest;

import io.javalin.Javalin;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * Who may call the API and how often: the {@link Authenticator} and the {@link RateLimiter} as before- and
 * after-handlers of the server, and the {@link AdminEndpoints} when an admin key is configured.
 */
final class AccessControl implements Consumer<Javalin> {

    private final Authenticator authenticator;
    private final RateLimiter limits;
    private final AdminEndpoints admin;

    /**
     * @param admin the admin routes, installed only when the authenticator has admin keys; {@code null} where
     *              none are configured
     */
    AccessControl(Authenticator authenticator, RateLimiter limits, AdminEndpoints admin) {
        this.authenticator = authenticator;
        this.limits = limits;
        this.admin = admin;
    }

    /**
     * @return the access control the configuration asks for
     * @throws IllegalArgumentException naming a setting that is wrong
     */
    static AccessControl from(RestTransport.Config config, AdminEndpoints admin) {
        JwtVerifier.JwtSettings jwt = new JwtVerifier.JwtSettings(config.jwtHmacSecret(), config.jwtPublicKeyFile(),
                config.jwtJwksFile(), config.jwtIssuer(), config.jwtAudience(),
                Duration.ofSeconds(config.jwtClockSkewSeconds()));
        Authenticator.Mode mode = Authenticator.Mode.parse(config.authMode());
        return new AccessControl(new Authenticator(mode, KeyHashes.parse("apiKeys", config.apiKeys()),
                KeyHashes.parse("adminKeys", config.adminKeys()), jwt.configured() ? new JwtVerifier(jwt) : null,
                config.metricsOpen()),
                new RateLimiter(config.requestsPerSecond(), config.tokensPerMinute(),
                        Duration.ofSeconds(config.rateLimitIdleSeconds()),
                        ClientAddresses.trusting("trustedProxies", config.trustedProxies())), admin);
    }

    @Override
    public void accept(Javalin app) {
        app.before(authenticator::check);
        if (limits.enabled()) {
            app.before(limits::admit);
            app.after(limits::charge);
        }
        if (authenticator.adminEnabled()) {
            admin.accept(app);
        }
    }
}
