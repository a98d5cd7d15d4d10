package io.gantry.engine.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloading the default model, against an HTTP server on the loopback interface (never the internet): the file
 * lands in the cache only with the right checksum, a wrong one is refused and leaves nothing behind, and every
 * failure says what to do instead.
 */
class DefaultModelTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path folder;
    private final byte[] model = new byte[200_000];
    private final AtomicInteger downloads = new AtomicInteger();
    private volatile byte[] served;
    private volatile int status = 200;
    private HttpServer server;

    @BeforeEach
    void serve() throws IOException {
        new Random(7).nextBytes(model);
        served = model;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/models/tiny.gguf", exchange -> {
            downloads.incrementAndGet();
            byte[] body = served;
            exchange.sendResponseHeaders(status, status == 200 ? body.length : -1);
            try (OutputStream out = exchange.getResponseBody()) {
                if (status == 200) {
                    out.write(body);
                }
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/models/tiny.gguf";
    }

    private DefaultModel defaultModel(String url, String sha256) {
        return new DefaultModel(url, sha256, folder.resolve("cache"), folder.resolve("models"), TIMEOUT);
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private List<Path> cacheFiles() throws IOException {
        Path cache = folder.resolve("cache");
        if (!Files.isDirectory(cache)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(cache)) {
            return files.toList();
        }
    }

    @Test
    void downloadsOnceIntoTheCacheWithTheRightChecksum() throws Exception {
        DefaultModel defaultModel = defaultModel(url(), sha256(model));
        Path path = defaultModel.obtain();
        assertEquals(folder.resolve("cache").resolve("tiny.gguf"), path);
        assertArrayEquals(model, Files.readAllBytes(path));
        assertEquals(List.of(path), cacheFiles(), "no temporary file is left");
        assertEquals(path, defaultModel.obtain());
        assertEquals(1, downloads.get(), "the cached file is used the second time");

        Files.write(path, new byte[] {1, 2, 3});
        assertArrayEquals(model, Files.readAllBytes(defaultModel.obtain()), "a damaged cached file is replaced");
        assertEquals(2, downloads.get());
    }

    @Test
    void aWrongChecksumIsRefusedAndLeavesNothingBehind() throws Exception {
        served = "not the model".getBytes();
        String expected = sha256(model);
        DefaultModel.UnavailableException e = assertThrows(DefaultModel.UnavailableException.class,
                () -> defaultModel(url(), expected).obtain());
        assertTrue(e.getMessage().contains("has sha256 " + sha256(served) + ", not the expected " + expected),
                e.getMessage());
        assertInstructions(e.getMessage(), url(), expected);
        assertEquals(List.of(), cacheFiles(), "neither the model nor a temporary file is left");
    }

    @Test
    void aRefusedConnectionSaysWhatToDo() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        String url = "http://127.0.0.1:" + closedPort + "/models/tiny.gguf";
        String expected = sha256(model);
        DefaultModel.UnavailableException e = assertThrows(DefaultModel.UnavailableException.class,
                () -> defaultModel(url, expected).obtain());
        assertTrue(e.getMessage().contains("ConnectException"), e.getMessage());
        assertInstructions(e.getMessage(), url, expected);
        assertEquals(List.of(), cacheFiles());
    }

    @Test
    void anHttpErrorSaysWhatToDo() throws Exception {
        status = 404;
        DefaultModel.UnavailableException e = assertThrows(DefaultModel.UnavailableException.class,
                () -> defaultModel(url(), sha256(model)).obtain());
        assertTrue(e.getMessage().contains("answered HTTP 404"), e.getMessage());
        assertEquals(List.of(), cacheFiles());
    }

    private void assertInstructions(String message, String url, String sha256) {
        Path target = folder.resolve("cache").resolve("tiny.gguf");
        assertTrue(message.contains("download " + url), message);
        assertTrue(message.contains("to " + target + " (sha256 " + sha256 + ")"), message);
        assertTrue(message.contains("curl -fL -o '" + target + "' '" + url + "'"), message);
        assertTrue(message.contains("put any .gguf file into " + folder.resolve("models")), message);
        assertTrue(message.contains("--model /path/to/model.gguf"), message);
        assertTrue(message.contains("models = /path/to/model.gguf"), message);
        assertTrue(message.contains("Gantry keeps running"), message);
    }

    @Test
    void badSettingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> defaultModel("ftp://host/x.gguf",
                DefaultModel.SHA256)).getMessage().contains("http or https"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> defaultModel("https://host/x.bin",
                DefaultModel.SHA256)).getMessage().contains(".gguf"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> defaultModel(url(), "abc")).getMessage()
                .contains("defaultModelSha256"));
        assertFalse(DefaultModel.cacheFolder("/srv/cache").toString().isEmpty());
        assertEquals(Path.of("/srv/cache"), DefaultModel.cacheFolder(" /srv/cache "));
    }

    @Test
    void theBuiltInSourceIsStories260KFromGgmlOrg() {
        DefaultModel builtIn = new DefaultModel(DefaultModel.SOURCE, DefaultModel.SHA256, folder, folder, TIMEOUT);
        assertEquals(folder.resolve("stories260K.gguf"), builtIn.target());
        assertTrue(DefaultModel.SOURCE.startsWith("https://huggingface.co/ggml-org/models/"));
    }
}
