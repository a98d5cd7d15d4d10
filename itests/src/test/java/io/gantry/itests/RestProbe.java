package io.gantry.itests;

import io.gantry.api.transport.Transport;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import org.osgi.framework.BundleContext;
import org.osgi.util.tracker.ServiceTracker;

/** Reaches the REST transport running in Felix over real HTTP. */
final class RestProbe {

    /** The admin key the itests' transport accepts. */
    static final String ADMIN_KEY = "itest-admin-key";
    /** The REST transport's configuration for itests: this machine only, on a free port, with the admin API. */
    static final String CFG_FILE = "io.gantry.transport.rest.cfg";
    static final String CFG = "host = 127.0.0.1\nport = 0\nadminKeys = sha256:" + sha256(ADMIN_KEY) + "\n";

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

    private RestProbe() {
    }

    /** Writes the itests' transport configuration into a conf folder before Felix starts. */
    static void configure(Path conf) throws IOException {
        Files.writeString(conf.resolve(CFG_FILE), CFG);
    }

    /**
     * @return the base address of the REST transport once it listens with the itests' configuration (a free port,
     *         not the default 8080)
     */
    static String endpoint(BundleContext context) throws InterruptedException {
        ServiceTracker<Transport, Transport> tracker = new ServiceTracker<>(context, Transport.class, null);
        tracker.open();
        try {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                Transport transport = tracker.waitForService(TIMEOUT.toMillis());
                if (transport != null && transport.protocol().equals("rest")
                        && !transport.endpoints().getFirst().endsWith(":8080")) {
                    return transport.endpoints().getFirst();
                }
                Thread.sleep(20);
            }
            throw new AssertionError("The REST transport did not start with the itests' configuration");
        } finally {
            tracker.close();
        }
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Sends an admin call: {@code body} is {@code null} for a GET, else PUT as JSON. */
    static HttpResponse<String> admin(String url, String body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT)
                .header("Authorization", "Bearer " + ADMIN_KEY);
        return CLIENT.send(body == null ? request.GET().build()
                : request.header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body))
                        .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String sha256(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<String> post(String url, String json) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
