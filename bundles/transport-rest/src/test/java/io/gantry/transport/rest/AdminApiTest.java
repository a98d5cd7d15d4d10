package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;

import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/** The admin API over real HTTP, on a fake plugin registry and a fake Config Admin. */
class AdminApiTest {

    private final FakePlugins plugins = new FakePlugins();
    /** The engine's configuration as the fake Config Admin holds it. */
    private final Map<String, Object> engineConfig = new ConcurrentHashMap<>(Map.of("maxNumSeqs", 8));
    private final HttpClient client = HttpClient.newHttpClient();
    private RestServer server;

    @BeforeEach
    void start() {
        server = new RestServer(ServedEngine.settings(Duration.ofHours(1)), () -> null);
        server.install(new AccessControl(new Authenticator(Authenticator.Mode.API_KEY,
                KeyHashes.parse("apiKeys", AuthTest.hash(AuthTest.API_KEY)),
                KeyHashes.parse("adminKeys", AuthTest.hash(AuthTest.ADMIN_KEY)), null, true),
                new RateLimiter(0, 0, Duration.ofMinutes(1)),
                new AdminEndpoints(() -> plugins, () -> List.of(new AdminEndpoints.BundleRow(7, "io.gantry.engine",
                        "0.1.0.SNAPSHOT", "ACTIVE")), () -> configurationAdmin(engineConfig))));
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop();
    }

    private HttpResponse<String> send(String method, String path, String body, String key) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .header("Authorization", "Bearer " + key)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode ok(String method, String path, String body, int status) throws Exception {
        HttpResponse<String> response = send(method, path, body, AuthTest.ADMIN_KEY);
        assertEquals(status, response.statusCode(), response.body());
        return HttpTestClient.JSON.readTree(response.body());
    }

    @Test
    void listsEveryKindAndWhichPluginIsActive() throws Exception {
        JsonNode listing = ok("GET", "/admin/plugins", null, 200);
        for (PluginKind kind : PluginKind.values()) {
            assertTrue(listing.has(kind.key()), kind.key());
        }
        JsonNode schedulers = listing.get("scheduler");
        assertEquals("continuous", schedulers.get("active").asText());
        assertEquals(2, schedulers.get("plugins").size());
        assertEquals("priority", schedulers.get("plugins").get(1).get("name").asText());
        assertTrue(listing.get("backend").get("active").isNull());
    }

    @Test
    void selectsAPluginAndGoesBackToRanking() throws Exception {
        ok("PUT", "/admin/plugins/scheduler", "{\"name\": \"priority\"}", 202);
        assertEquals("priority", plugins.selected.get(PluginKind.SCHEDULER));
        assertEquals("priority", ok("GET", "/admin/plugins", null, 200).get("scheduler").get("active").asText());
        ok("PUT", "/admin/plugins/scheduler", "{\"name\": null}", 202);
        assertNull(plugins.selected.get(PluginKind.SCHEDULER));
        assertEquals(404, send("PUT", "/admin/plugins/teleporter", "{}", AuthTest.ADMIN_KEY).statusCode());
        assertEquals(400, send("PUT", "/admin/plugins/scheduler", "{\"name\": \"bad name\"}", AuthTest.ADMIN_KEY)
                .statusCode());
        assertEquals(400, send("PUT", "/admin/plugins/scheduler", "{\"name\": 3}", AuthTest.ADMIN_KEY).statusCode());
    }

    @Test
    void listsBundles() throws Exception {
        JsonNode bundle = ok("GET", "/admin/bundles", null, 200).get("bundles").get(0);
        assertEquals("io.gantry.engine", bundle.get("symbolic_name").asText());
        assertEquals("ACTIVE", bundle.get("state").asText());
        assertEquals(7, bundle.get("id").asInt());
    }

    @Test
    void setsVariantsKeepingTheEnginesOtherSettings() throws Exception {
        ok("PUT", "/admin/variants", "{\"variants\": \"control:50:continuous+paged, test:50:priority\"}", 202);
        assertEquals("control:50:continuous+paged, test:50:priority", engineConfig.get("variants"));
        assertEquals(8, engineConfig.get("maxNumSeqs"));
        HttpResponse<String> bad = send("PUT", "/admin/variants", "{\"variants\": \"control:0:continuous\"}",
                AuthTest.ADMIN_KEY);
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("weight of at least 1"), bad.body());
        assertEquals("control:50:continuous+paged, test:50:priority", engineConfig.get("variants"), "unchanged");
        ok("PUT", "/admin/variants", "{\"variants\": \"\"}", 202);
        assertNull(engineConfig.get("variants"));
        assertEquals(400, send("PUT", "/admin/variants", "{}", AuthTest.ADMIN_KEY).statusCode());
    }

    @Test
    void apiKeysAreForbiddenAndUnknownKeysUnauthorized() throws Exception {
        assertEquals(403, send("GET", "/admin/plugins", null, AuthTest.API_KEY).statusCode());
        assertEquals(403, send("PUT", "/admin/variants", "{\"variants\": \"\"}", AuthTest.API_KEY).statusCode());
        assertEquals(401, send("GET", "/admin/bundles", null, "sk-nobody").statusCode());
        assertTrue(!engineConfig.containsKey("variants"));
    }

    @Test
    void theVariantsFormatIsChecked() {
        EngineVariants.check("a:1:*, b.2:3:priority+contiguous");
        EngineVariants.check(" ");
        for (String bad : List.of("a:1", "a:x:continuous", "a:1:continuous+paged+more", "a b:1:continuous",
                "a:1:continuous, a:2:priority", "a:1:+paged")) {
            assertThrows(IllegalArgumentException.class, () -> EngineVariants.check(bad), bad);
        }
    }

    /** Config Admin holding one configuration, the engine's, in a map. */
    private static ConfigurationAdmin configurationAdmin(Map<String, Object> properties) {
        Configuration configuration = (Configuration) Proxy.newProxyInstance(AdminApiTest.class.getClassLoader(),
                new Class<?>[] {Configuration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getProperties" -> new Hashtable<>(properties);
                    case "update" -> {
                        @SuppressWarnings("unchecked")
                        Dictionary<String, Object> updated = (Dictionary<String, Object>) args[0];
                        properties.clear();
                        for (String key : java.util.Collections.list(updated.keys())) {
                            properties.put(key, updated.get(key));
                        }
                        yield null;
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return (ConfigurationAdmin) Proxy.newProxyInstance(AdminApiTest.class.getClassLoader(),
                new Class<?>[] {ConfigurationAdmin.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getConfiguration") && EngineVariants.ENGINE_PID.equals(args[0])
                            && args.length == 2 && "?".equals(args[1])) {
                        return configuration;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    /** Two schedulers, one allocator, no backend; selections recorded. */
    private static final class FakePlugins implements PluginRegistry {
        final Map<PluginKind, String> selected = new ConcurrentHashMap<>();

        @Override
        public List<PluginInfo> plugins(PluginKind kind) {
            List<PluginInfo> list = new ArrayList<>();
            switch (kind) {
                case SCHEDULER -> {
                    list.add(info(kind, "continuous", 100));
                    list.add(info(kind, "priority", 50));
                }
                case KV_ALLOCATOR -> list.add(info(kind, "paged", 100));
                default -> { }
            }
            return list;
        }

        private PluginInfo info(PluginKind kind, String name, int ranking) {
            String active = selected.getOrDefault(kind, kind == PluginKind.SCHEDULER ? "continuous" : "paged");
            return new PluginInfo(kind, name, name + " " + kind.key(), "io.gantry." + name, "0.1.0", ranking, 1,
                    name.equals(active));
        }

        @Override
        public Optional<PluginInfo> active(PluginKind kind) {
            return plugins(kind).stream().filter(PluginInfo::active).findFirst();
        }

        @Override
        public void select(PluginKind kind, String name) {
            if (name != null && !name.matches("[a-z-]+")) {
                throw new IllegalArgumentException("Not a plugin name: '" + name + "'");
            }
            if (name == null) {
                selected.remove(kind);
            } else {
                selected.put(kind, name);
            }
        }

        @Override
        public <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo) {
            throw new UnsupportedOperationException("the admin API does not call plugins");
        }
    }
}
