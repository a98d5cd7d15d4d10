package io.gantry.transport.rest;

import io.javalin.http.Context;

import java.util.Locale;
import java.util.Set;

/**
 * Decides who may call what, before any handler runs. The health checks are always open, {@code /metrics} when so
 * configured; {@code /admin/} needs an admin key; everything else needs what the {@link Mode} asks for. A request
 * without usable credentials gets 401 with {@code WWW-Authenticate: Bearer}; valid credentials that do not grant
 * the route (an API key or token on an admin route) get 403. Keys and tokens are never logged nor echoed.
 *
 * <p>The caller's identity (a key's hash prefix or a token's subject) is left in the request attribute
 * {@link #CLIENT} for the rate limits; with auth off it is left unset and the rate limits use the client's address.
 */
final class Authenticator {

    /** The request attribute naming the caller. */
    static final String CLIENT = "gantry.client";

    private static final System.Logger LOG = System.getLogger(Authenticator.class.getName());
    private static final Set<String> HEALTH = Set.of("/health", "/healthz", "/ready");
    private static final String BEARER = "bearer ";

    /** What API routes ask for. */
    enum Mode {
        /** Nothing: anyone who reaches the port may call. */
        NONE("none"),
        /** {@code Authorization: Bearer KEY} with a configured API key. */
        API_KEY("apiKey"),
        /** {@code Authorization: Bearer JWT} with a valid token. */
        JWT("jwt"),
        /** Either of the two. */
        API_KEY_OR_JWT("apiKeyOrJwt"),
        /** Both: an API key in {@code X-API-Key} and a valid token in {@code Authorization: Bearer}. */
        BOTH("both");

        private final String setting;

        Mode(String setting) {
            this.setting = setting;
        }

        /** @throws IllegalArgumentException listing the modes */
        static Mode parse(String setting) {
            for (Mode mode : values()) {
                if (mode.setting.equalsIgnoreCase(setting == null ? "" : setting.trim())) {
                    return mode;
                }
            }
            throw new IllegalArgumentException("authMode must be one of none, apiKey, jwt, apiKeyOrJwt, both; got '"
                    + setting + "'");
        }

        boolean keys() {
            return this == API_KEY || this == API_KEY_OR_JWT || this == BOTH;
        }

        boolean tokens() {
            return this == JWT || this == API_KEY_OR_JWT || this == BOTH;
        }
    }

    private final Mode mode;
    private final KeyHashes apiKeys;
    private final KeyHashes adminKeys;
    private final JwtVerifier jwt;
    private final boolean metricsOpen;

    /**
     * @param mode        what API routes ask for
     * @param apiKeys     the API keys' hashes; needed by the modes that take keys
     * @param adminKeys   the admin keys' hashes; none turns the admin routes off
     * @param jwt         the token checks, needed by the modes that take tokens, else {@code null}
     * @param metricsOpen whether {@code /metrics} is open to all
     * @throws IllegalArgumentException if the mode needs keys or a token check that is not configured
     */
    Authenticator(Mode mode, KeyHashes apiKeys, KeyHashes adminKeys, JwtVerifier jwt, boolean metricsOpen) {
        if (mode.keys() && apiKeys.isEmpty()) {
            throw new IllegalArgumentException("authMode " + mode.setting + " needs at least one apiKeys entry");
        }
        if (mode.tokens() && jwt == null) {
            throw new IllegalArgumentException("authMode " + mode.setting + " needs jwtHmacSecret, jwtPublicKeyFile "
                    + "or jwtJwksFile");
        }
        this.mode = mode;
        this.apiKeys = apiKeys;
        this.adminKeys = adminKeys;
        this.jwt = jwt;
        this.metricsOpen = metricsOpen;
    }

    /** @return whether admin routes are served: an admin key is configured */
    boolean adminEnabled() {
        return !adminKeys.isEmpty();
    }

    /** The before-handler. */
    void check(Context ctx) {
        String path = ctx.path();
        if (HEALTH.contains(path) || (metricsOpen && path.equals("/metrics"))) {
            return;
        }
        String bearer = bearer(ctx);
        if (path.startsWith("/admin/") || path.equals("/admin")) {
            String admin = adminKeys.match(bearer);
            if (admin == null) {
                // Someone with API rights is told that they lack rights; anyone else that they are unknown.
                throw apiIdentity(ctx, bearer) != null ? forbidden() : unauthorized(ctx, bearer != null);
            }
            ctx.attribute(CLIENT, "admin-" + admin);
            return;
        }
        if (mode == Mode.NONE) {
            // Anyone may call; the rate limits know the caller by its address.
            return;
        }
        String client = apiIdentity(ctx, bearer);
        if (client == null) {
            throw unauthorized(ctx, bearer != null || ctx.header("X-API-Key") != null);
        }
        ctx.attribute(CLIENT, client);
    }

    /** @return the caller's name if its credentials satisfy the mode, else {@code null} */
    private String apiIdentity(Context ctx, String bearer) {
        return switch (mode) {
            case NONE -> null;
            case API_KEY -> apiKeys.match(bearer);
            case JWT -> token(bearer);
            case API_KEY_OR_JWT -> {
                String key = apiKeys.match(bearer);
                yield key != null ? key : token(bearer);
            }
            case BOTH -> {
                String key = apiKeys.match(ctx.header("X-API-Key"));
                yield key != null && token(bearer) != null ? key : null;
            }
        };
    }

    private String token(String bearer) {
        if (bearer == null || jwt == null) {
            return null;
        }
        try {
            return "jwt:" + jwt.verify(bearer);
        } catch (JwtVerifier.InvalidTokenException e) {
            LOG.log(System.Logger.Level.DEBUG, "A token was refused: {0}", e.getMessage());
            return null;
        }
    }

    private static String bearer(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || !header.toLowerCase(Locale.ROOT).startsWith(BEARER)) {
            return null;
        }
        String credential = header.substring(BEARER.length()).trim();
        return credential.isEmpty() ? null : credential;
    }

    private static ApiException unauthorized(Context ctx, boolean presented) {
        ctx.header("WWW-Authenticate", presented ? "Bearer realm=\"gantry\", error=\"invalid_token\""
                : "Bearer realm=\"gantry\"");
        return new ApiException(401, "invalid_request_error", null, "invalid_api_key", presented
                ? "The credentials sent are not valid" : "This endpoint needs credentials: Authorization: Bearer ...",
                0);
    }

    private static ApiException forbidden() {
        return new ApiException(403, "invalid_request_error", null, "insufficient_permissions",
                "These credentials do not grant this endpoint", 0);
    }
}
