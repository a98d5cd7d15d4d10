package io.gantry.transport.rest;

import java.time.Duration;
import java.util.function.Function;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real engine ({@link TestEngine}) behind a {@link RestServer} on a free loopback port, started before the tests
 * of a class and stopped after them. Register it as a static {@code @RegisterExtension} field; the class is skipped
 * when the model is absent.
 */
final class ServedEngine implements BeforeAllCallback, AfterAllCallback {

    private final Function<TestEngine, RestServer> serverFactory;
    private TestEngine engine;
    private RestServer server;
    private HttpTestClient http;

    /** Serves the engine with {@link #settings} of a one-hour job time to live and nothing else. */
    ServedEngine() {
        this(settings(Duration.ofHours(1)));
    }

    /** Serves the engine with {@code settings} and nothing else. */
    ServedEngine(ServerSettings settings) {
        this(engine -> new RestServer(settings, () -> engine));
    }

    /** @param serverFactory makes the (not yet started) server in front of the engine */
    ServedEngine(Function<TestEngine, RestServer> serverFactory) {
        this.serverFactory = serverFactory;
    }

    /** @return the settings the tests serve with: loopback, any free port, 64 KiB bodies, {@code jobTtl} */
    static ServerSettings settings(Duration jobTtl) {
        return new ServerSettings("127.0.0.1", 0, 64 * 1024, 4096, Duration.ofSeconds(15), jobTtl, 100, 16);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        engine = new TestEngine();
        server = serverFactory.apply(engine);
        server.start();
        http = new HttpTestClient(server.port());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (server != null) {
            server.stop();
        }
        if (engine != null) {
            engine.close();
        }
    }

    TestEngine engine() {
        return engine;
    }

    RestServer server() {
        return server;
    }

    /** @return the port the server listens on, at 127.0.0.1 */
    int port() {
        return server.port();
    }

    /** @return a client of the server */
    HttpTestClient http() {
        return http;
    }
}
