package io.gantry.transport.rest;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;

/**
 * Checks JSON Web Tokens: the signature (HS256 with a shared secret, or RS256 with a public key from a PEM file or
 * a JWKS file), that the token has not expired (with a small clock skew), and the issuer and audience when they
 * are configured. Unsigned tokens ({@code alg: none}) and any algorithm but the configured one are refused.
 */
final class JwtVerifier {

    /** The shortest HS256 secret, in bytes, that the JWS specification allows. */
    private static final int MIN_SECRET_BYTES = 32;

    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();

    /**
     * @param settings where the key is and what the claims must say
     * @throws IllegalArgumentException if the key is missing, ambiguous, too short or unreadable
     */
    JwtVerifier(JwtSettings settings) {
        JWSAlgorithm algorithm;
        JWKSource<SecurityContext> keys;
        int sources = (settings.hmacSecret().isEmpty() ? 0 : 1) + (settings.publicKeyFile().isEmpty() ? 0 : 1)
                + (settings.jwksFile().isEmpty() ? 0 : 1);
        if (sources != 1) {
            throw new IllegalArgumentException("JWT checks need exactly one of jwtHmacSecret, jwtPublicKeyFile and "
                    + "jwtJwksFile, got " + sources);
        }
        if (!settings.hmacSecret().isEmpty()) {
            byte[] secret = settings.hmacSecret().getBytes(StandardCharsets.UTF_8);
            if (secret.length < MIN_SECRET_BYTES) {
                throw new IllegalArgumentException("jwtHmacSecret must be at least " + MIN_SECRET_BYTES
                        + " bytes for HS256, got " + secret.length);
            }
            algorithm = JWSAlgorithm.HS256;
            keys = new ImmutableSecret<>(secret);
        } else {
            algorithm = JWSAlgorithm.RS256;
            keys = new ImmutableJWKSet<>(settings.jwksFile().isEmpty()
                    ? new JWKSet(new RSAKey.Builder(pemPublicKey(Path.of(settings.publicKeyFile()))).build())
                    : jwks(Path.of(settings.jwksFile())));
        }
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithm, keys));
        JWTClaimsSet.Builder exact = new JWTClaimsSet.Builder();
        Set<String> required = new HashSet<>(Set.of("exp"));
        if (!settings.issuer().isEmpty()) {
            exact.issuer(settings.issuer());
            required.add("iss");
        }
        DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
                settings.audience().isEmpty() ? null : settings.audience(), exact.build(), required);
        claims.setMaxClockSkew((int) settings.clockSkew().toSeconds());
        processor.setJWTClaimsSetVerifier(claims);
    }

    /**
     * @param token the compact serialized token
     * @return who it was issued to: its subject, or its issuer when it has none
     * @throws InvalidTokenException with the reason, for the server's log only
     */
    String verify(String token) throws InvalidTokenException {
        try {
            JWTClaimsSet claims = processor.process(token, null);
            return claims.getSubject() != null ? claims.getSubject() : String.valueOf(claims.getIssuer());
        } catch (ParseException | BadJOSEException | JOSEException | RuntimeException e) {
            throw new InvalidTokenException(e.getMessage());
        }
    }

    /** A token that is malformed, badly signed, expired, or for another issuer or audience. */
    static final class InvalidTokenException extends Exception {

        private static final long serialVersionUID = 1L;

        InvalidTokenException(String reason) {
            super(reason, null, false, false);
        }
    }

    private static RSAPublicKey pemPublicKey(Path file) {
        try {
            String pem = Files.readString(file);
            String base64 = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
            return (RSAPublicKey) KeyFactory.getInstance("RSA")
                    .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
        } catch (IOException | GeneralSecurityException | IllegalArgumentException | ClassCastException e) {
            throw new IllegalArgumentException("jwtPublicKeyFile " + file + " is not a readable RSA public key in PEM "
                    + "(-----BEGIN PUBLIC KEY-----): " + e.getMessage(), e);
        }
    }

    private static JWKSet jwks(Path file) {
        try {
            return JWKSet.load(file.toFile());
        } catch (IOException | ParseException e) {
            throw new IllegalArgumentException("jwtJwksFile " + file + " is not a readable JWK set: "
                    + e.getMessage(), e);
        }
    }

    /**
     * @param hmacSecret    the HS256 shared secret, or empty
     * @param publicKeyFile a PEM file with the RS256 public key, or empty
     * @param jwksFile      a JWKS file with the RS256 public keys, or empty
     * @param issuer        the {@code iss} every token must have, or empty for any
     * @param audience      the {@code aud} every token must include, or empty for any
     * @param clockSkew     how far the clocks of issuer and server may differ
     */
    record JwtSettings(String hmacSecret, String publicKeyFile, String jwksFile, String issuer, String audience,
            Duration clockSkew) {

        /** Turns absent values into empty ones. */
        JwtSettings {
            hmacSecret = hmacSecret == null ? "" : hmacSecret;
            publicKeyFile = publicKeyFile == null ? "" : publicKeyFile.trim();
            jwksFile = jwksFile == null ? "" : jwksFile.trim();
            issuer = issuer == null ? "" : issuer.trim();
            audience = audience == null ? "" : audience.trim();
            if (clockSkew.isNegative()) {
                throw new IllegalArgumentException("jwtClockSkewSeconds must not be negative, got " + clockSkew);
            }
        }

        /** @return whether a key is configured at all */
        boolean configured() {
            return !hmacSecret.isEmpty() || !publicKeyFile.isEmpty() || !jwksFile.isEmpty();
        }
    }
}
