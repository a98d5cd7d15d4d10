package io.gantry.engine.serving;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The model a fresh Gantry serves when it has none: stories260K, downloaded once into a cache folder and checked
 * against its SHA-256. The download goes to a temporary file beside the target, which is moved into place only
 * once its checksum matches, so the cache never holds a partial or foreign file. When the download fails (no
 * network, a wrong checksum), the exception says exactly what to do instead.
 */
final class DefaultModel {

    /** Where the default model comes from: ggml-org's conversion of llama2.c's stories260K. */
    static final String SOURCE = "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf";
    /** Its SHA-256. */
    static final String SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

    private static final System.Logger LOG = System.getLogger(DefaultModel.class.getName());
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private final URI source;
    private final String sha256;
    private final Path target;
    private final Path modelFolder;
    private final Duration timeout;

    /** The default model could not be had; the message says why and what to do instead. */
    static final class UnavailableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * @param source      where to download it from (http or https)
     * @param sha256      its SHA-256, hex
     * @param cacheFolder where to keep it
     * @param modelFolder the folder whose {@code *.gguf} files Gantry serves, for the instructions
     * @param timeout     how long the whole download may take
     * @throws IllegalArgumentException naming a setting that is wrong
     */
    DefaultModel(String source, String sha256, Path cacheFolder, Path modelFolder, Duration timeout) {
        URI uri;
        try {
            uri = URI.create(source.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("defaultModelUrl: '" + source + "' is not a URL", e);
        }
        if (!"https".equalsIgnoreCase(uri.getScheme()) && !"http".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("defaultModelUrl must be an http or https URL, got '" + source + "'");
        }
        String name = uri.getPath() == null ? "" : uri.getPath().substring(uri.getPath().lastIndexOf('/') + 1);
        if (!name.endsWith(".gguf")) {
            throw new IllegalArgumentException("defaultModelUrl must name a .gguf file, got '" + source + "'");
        }
        String hash = sha256.strip().toLowerCase(Locale.ROOT);
        if (!hash.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("defaultModelSha256 must be 64 hex digits, got '" + sha256 + "'");
        }
        this.source = uri;
        this.sha256 = hash;
        this.target = cacheFolder.resolve(name);
        this.modelFolder = modelFolder;
        this.timeout = timeout;
    }

    /**
     * @param configured the configured cache folder, or blank for the default
     * @return the folder models are cached in: the configured one, else {@code $GANTRY_CACHE/models}, else
     *         {@code ~/.cache/gantry/models}
     */
    static Path cacheFolder(String configured) {
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured.strip());
        }
        String cache = System.getenv("GANTRY_CACHE");
        if (cache != null && !cache.isBlank()) {
            return Path.of(cache).resolve("models");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "gantry", "models");
    }

    /** @return where the model is kept */
    Path target() {
        return target;
    }

    /**
     * @return the model file: from the cache if it is there with the right checksum, else downloaded now
     * @throws UnavailableException if it cannot be downloaded or its checksum is wrong; the message says what to do
     */
    Path obtain() throws UnavailableException, InterruptedException {
        try {
            if (Files.isRegularFile(target)) {
                String cached = sha256(target);
                if (cached.equals(sha256)) {
                    return target;
                }
                LOG.log(System.Logger.Level.WARNING, "The cached " + target + " has sha256 " + cached + ", not "
                        + sha256 + "; downloading it again");
            }
        } catch (IOException e) {
            throw unavailable("the cached " + target + " cannot be read (" + e.getMessage() + ")", e);
        }
        LOG.log(System.Logger.Level.INFO, "No model in " + modelFolder + " and none configured: downloading the "
                + "default model from " + source + " into " + target);
        download();
        LOG.log(System.Logger.Level.INFO, "Downloaded the default model to " + target + " (sha256 " + sha256
                + " verified)");
        return target;
    }

    private void download() throws UnavailableException, InterruptedException {
        Path temporary = null;
        try {
            Files.createDirectories(target.getParent());
            temporary = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".part");
            HttpClient client = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT)
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
            HttpResponse<InputStream> response;
            try (client) {
                response = client.send(HttpRequest.newBuilder(source).timeout(timeout).GET().build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                String received;
                try (InputStream body = response.body()) {
                    if (response.statusCode() != 200) {
                        throw unavailable(source + " answered HTTP " + response.statusCode(), null);
                    }
                    received = copyHashing(body, temporary);
                }
                if (!received.equals(sha256)) {
                    throw unavailable("the file downloaded from " + source + " has sha256 " + received
                            + ", not the expected " + sha256 + "; it was deleted", null);
                }
            }
            try {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
            }
            temporary = null;
        } catch (IOException e) {
            throw unavailable("downloading " + source + " failed (" + describe(e) + ")", e);
        } finally {
            if (temporary != null) {
                try {
                    Files.deleteIfExists(temporary);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "Cannot delete " + temporary + ": " + e.getMessage());
                }
            }
        }
    }

    /** @return the SHA-256 of what was copied, hex */
    private static String copyHashing(InputStream in, Path file) throws IOException {
        MessageDigest digest = sha256Digest();
        try (DigestInputStream hashing = new DigestInputStream(in, digest);
                OutputStream out = Files.newOutputStream(file)) {
            hashing.transferTo(out);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    static String sha256(Path file) throws IOException {
        MessageDigest digest = sha256Digest();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every JDK has SHA-256", e);
        }
    }

    /** @return an I/O failure in words: connection refusals and unknown hosts carry no message of their own */
    private static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message);
    }

    private UnavailableException unavailable(String reason, Throwable cause) {
        return new UnavailableException("Gantry has no model to serve: none is configured, " + modelFolder
                + " holds no .gguf file, and the default model could not be downloaded: " + reason + ".\n"
                + "To serve it, download " + source + "\n"
                + "  to " + target + " (sha256 " + sha256 + "), e.g.:\n"
                + "  mkdir -p '" + target.getParent() + "' && curl -fL -o '" + target + "' '" + source + "'\n"
                + "  and restart Gantry; or put any .gguf file into " + modelFolder + ", or start Gantry with "
                + "--model /path/to/model.gguf, or name one in conf/io.gantry.engine.cfg "
                + "(models = /path/to/model.gguf).\n"
                + "Gantry keeps running meanwhile; /health answers 503 until a model is served.", cause);
    }
}
