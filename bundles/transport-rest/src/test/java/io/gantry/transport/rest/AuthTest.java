package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every auth mode over real HTTP, on a server with no model: a request that passes auth gets 503 (no model yet),
 * one that does not gets 401 or 403.
 */
class AuthTest {

    static final String API_KEY = "sk-test-api-key";
    static final String ADMIN_KEY = "sk-test-admin-key";
    static final String SECRET = "a-shared-secret-that-is-32-bytes-or-more";
    static final String ISSUER = "https://issuer.example";
    static final String AUDIENCE = "gantry";

    private final HttpClient client = HttpClient.newHttpClient();
    private RestServer server;

    @TempDir
    Path dir;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
    }

    static String hash(String key) {
        return "sha256:" + HexFormat.of().formatHex(KeyHashes.sha256(key));
    }

    private void start(Authenticator.Mode mode, JwtVerifier jwt) {
        server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), () -> null);
        server.install(new AccessControl(new Authenticator(mode, KeyHashes.parse("apiKeys", hash(API_KEY)),
                KeyHashes.parse("adminKeys", hash(ADMIN_KEY)), jwt, false), new RateLimiter(0, 0,
                        Duration.ofMinutes(1)), new AdminEndpoints(() -> null, List::of, () -> null)));
        server.start();
    }

    private static JwtVerifier hmac() {
        return new JwtVerifier(new JwtVerifier.JwtSettings(SECRET, "", "", ISSUER, AUDIENCE, Duration.ofSeconds(30)));
    }

    static String hs256(String secret, String issuer, String audience, Instant expiry) throws JOSEException {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims(issuer, audience, expiry));
        jwt.sign(new MACSigner(secret.getBytes(StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    private static JWTClaimsSet claims(String issuer, String audience, Instant expiry) {
        return new JWTClaimsSet.Builder().subject("alice").issuer(issuer).audience(audience)
                .expirationTime(Date.from(expiry)).build();
    }

    private static Instant inAnHour() {
        return Instant.now().plusSeconds(3600);
    }

    HttpResponse<String> get(String path, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        headers.forEach(request::header);
        return client.send(request.GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> bearer(String path, String credential) throws IOException, InterruptedException {
        return get(path, Map.of("Authorization", "Bearer " + credential));
    }

    private static void assertUnauthorized(HttpResponse<String> response) throws IOException {
        assertEquals(401, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"),
                response.headers().toString());
        JsonNode error = HttpTestClient.JSON.readTree(response.body()).get("error");
        assertEquals("invalid_api_key", error.get("code").asText());
        assertTrue(!response.body().contains(API_KEY) && !response.body().contains(ADMIN_KEY));
    }

    private static void assertPassed(HttpResponse<String> response) {
        assertEquals(503, response.statusCode(), "passes auth, then finds no model: " + response.body());
    }

    @Test
    void noneLetsEveryoneInButKeepsAdminClosed() throws Exception {
        start(Authenticator.Mode.NONE, null);
        assertPassed(get("/v1/models", Map.of()));
        assertUnauthorized(get("/admin/plugins", Map.of()));
    }

    @Test
    void apiKeyMode() throws Exception {
        start(Authenticator.Mode.API_KEY, null);
        assertPassed(bearer("/v1/models", API_KEY));
        assertUnauthorized(get("/v1/models", Map.of()));
        assertUnauthorized(bearer("/v1/models", "sk-wrong"));
        assertUnauthorized(get("/v1/models", Map.of("Authorization", "Basic " + API_KEY)));
        assertEquals(403, bearer("/admin/plugins", API_KEY).statusCode(), "an API key lacks admin rights");
        assertUnauthorized(bearer("/admin/plugins", "sk-wrong"));
    }

    @Test
    void healthStaysOpen() throws Exception {
        start(Authenticator.Mode.API_KEY, null);
        for (String path : List.of("/health", "/healthz", "/ready")) {
            assertEquals(503, get(path, Map.of()).statusCode(), path + " answers (loading) without credentials");
        }
        assertUnauthorized(get("/metrics", Map.of()));
    }

    @Test
    void jwtModeChecksSignatureExpiryIssuerAndAudience() throws Exception {
        start(Authenticator.Mode.JWT, hmac());
        assertPassed(bearer("/v1/models", hs256(SECRET, ISSUER, AUDIENCE, inAnHour())));
        assertPassed(bearer("/v1/models", hs256(SECRET, ISSUER, AUDIENCE, Instant.now().minusSeconds(10))));
        assertUnauthorized(bearer("/v1/models", hs256(SECRET, ISSUER, AUDIENCE, Instant.now().minusSeconds(120))));
        assertUnauthorized(bearer("/v1/models", hs256(SECRET, "https://other.example", AUDIENCE, inAnHour())));
        assertUnauthorized(bearer("/v1/models", hs256(SECRET, ISSUER, "someone-else", inAnHour())));
        assertUnauthorized(bearer("/v1/models",
                hs256("another-secret-that-is-32-bytes-or-more!", ISSUER, AUDIENCE, inAnHour())));
        assertUnauthorized(bearer("/v1/models", "not.a.token"));
        assertUnauthorized(bearer("/v1/models", API_KEY));
        assertEquals(403, bearer("/admin/plugins", hs256(SECRET, ISSUER, AUDIENCE, inAnHour())).statusCode());
    }

    @Test
    void unsignedAndTamperedTokensAreRefused() throws Exception {
        start(Authenticator.Mode.JWT, hmac());
        assertUnauthorized(bearer("/v1/models", new PlainJWT(claims(ISSUER, AUDIENCE, inAnHour())).serialize()));
        String[] parts = hs256(SECRET, ISSUER, AUDIENCE, inAnHour()).split("\\.");
        String admin = Base64URL.encode(new JWTClaimsSet.Builder().subject("root").issuer(ISSUER).audience(AUDIENCE)
                .expirationTime(Date.from(inAnHour())).build().toString()).toString();
        assertUnauthorized(bearer("/v1/models", parts[0] + "." + admin + "." + parts[2]));
    }

    @Test
    void rs256WithPemAndJwksAndTheWrongKey() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        KeyPair pair = generator.generateKeyPair();
        KeyPair other = generator.generateKeyPair();
        Path pem = dir.resolve("public.pem");
        Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(pair.getPublic().getEncoded())
                + "\n-----END PUBLIC KEY-----\n");
        Path jwks = dir.resolve("jwks.json");
        Files.writeString(jwks, new JWKSet(new RSAKey.Builder((RSAPublicKey) pair.getPublic()).build()).toString());
        for (JwtVerifier.JwtSettings settings : List.of(
                new JwtVerifier.JwtSettings("", pem.toString(), "", ISSUER, AUDIENCE, Duration.ofSeconds(30)),
                new JwtVerifier.JwtSettings("", "", jwks.toString(), ISSUER, AUDIENCE, Duration.ofSeconds(30)))) {
            start(Authenticator.Mode.JWT, new JwtVerifier(settings));
            assertPassed(bearer("/v1/models", rs256(pair)));
            assertUnauthorized(bearer("/v1/models", rs256(other)));
            assertUnauthorized(bearer("/v1/models", hs256(SECRET, ISSUER, AUDIENCE, inAnHour())));
            stop();
        }
        server = null;
    }

    private static String rs256(KeyPair pair) throws JOSEException {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), claims(ISSUER, AUDIENCE, inAnHour()));
        jwt.sign(new RSASSASigner(pair.getPrivate()));
        return jwt.serialize();
    }

    @Test
    void apiKeyOrJwtTakesEither() throws Exception {
        start(Authenticator.Mode.API_KEY_OR_JWT, hmac());
        assertPassed(bearer("/v1/models", API_KEY));
        assertPassed(bearer("/v1/models", hs256(SECRET, ISSUER, AUDIENCE, inAnHour())));
        assertUnauthorized(bearer("/v1/models", "sk-wrong"));
    }

    @Test
    void bothNeedsKeyAndToken() throws Exception {
        start(Authenticator.Mode.BOTH, hmac());
        String token = hs256(SECRET, ISSUER, AUDIENCE, inAnHour());
        assertPassed(get("/v1/models", Map.of("X-API-Key", API_KEY, "Authorization", "Bearer " + token)));
        assertUnauthorized(bearer("/v1/models", token));
        assertUnauthorized(get("/v1/models", Map.of("X-API-Key", API_KEY)));
        assertUnauthorized(get("/v1/models", Map.of("X-API-Key", "sk-wrong", "Authorization", "Bearer " + token)));
        assertUnauthorized(get("/v1/models", Map.of("X-API-Key", API_KEY, "Authorization", "Bearer "
                + hs256(SECRET, ISSUER, AUDIENCE, Instant.now().minusSeconds(3600)))));
    }

    @Test
    void adminKeyOpensAdminRoutesOnly() throws Exception {
        start(Authenticator.Mode.API_KEY, null);
        assertEquals(200, bearer("/admin/bundles", ADMIN_KEY).statusCode());
        assertEquals(404, bearer("/admin/nothing-here", ADMIN_KEY).statusCode(), "passes auth, no such route");
        assertUnauthorized(bearer("/v1/models", ADMIN_KEY));
    }

    @Test
    void badSettingsAreNamed() {
        assertThrows(IllegalArgumentException.class, () -> KeyHashes.parse("apiKeys", "plain-key"));
        assertNull(KeyHashes.parse("apiKeys", hash(API_KEY) + ", " + hash(ADMIN_KEY)).match("sk-wrong"));
        assertTrue(KeyHashes.parse("apiKeys", hash(API_KEY) + ", " + hash(ADMIN_KEY)).match(ADMIN_KEY) != null);
        assertEquals("authMode must be one of none, apiKey, jwt, apiKeyOrJwt, both; got 'open'",
                assertThrows(IllegalArgumentException.class, () -> Authenticator.Mode.parse("open")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Authenticator(Authenticator.Mode.API_KEY,
                KeyHashes.parse("apiKeys"), KeyHashes.parse("adminKeys"), null, true));
        assertThrows(IllegalArgumentException.class, () -> new Authenticator(Authenticator.Mode.JWT,
                KeyHashes.parse("apiKeys"), KeyHashes.parse("adminKeys"), null, true));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new JwtVerifier(new JwtVerifier.JwtSettings(
                "short", "", "", "", "", Duration.ZERO))).getMessage().contains("at least 32 bytes"));
    }
}
