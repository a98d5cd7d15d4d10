package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /openapi.json}: a JSON OpenAPI 3 document naming exactly the routes the server registers, each
 * operation with its responses, and every {@code $ref} resolving. The transport is started as Declarative Services
 * starts it, with every optional part switched on (an admin key, rate limits), so that the routes compared are all
 * the routes Javalin serves. Needs no model: the server runs without one.
 */
class OpenApiDocumentTest {

    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "options", "head", "patch",
            "trace");

    private static RestTransport transport;
    private static HttpTestClient http;

    @BeforeAll
    static void start() {
        transport = new RestTransport(TransportConfigs.config(Map.of("host", "127.0.0.1", "port", 0,
                "adminKeys", new String[] {AuthTest.hash(AuthTest.ADMIN_KEY)}, "requestsPerSecond", 1000,
                "tokensPerMinute", 1_000_000L)), null);
        http = new HttpTestClient(URI.create(transport.endpoints().getFirst()).getPort());
    }

    @AfterAll
    static void stop() {
        if (transport != null) {
            transport.deactivate();
        }
    }

    @Test
    void theDocumentNamesExactlyTheRegisteredRoutes() throws Exception {
        HttpTestClient.Response response = http.get("/openapi.json");
        assertEquals(200, response.status());
        JsonNode document = response.json();
        assertTrue(document.get("openapi").asText().startsWith("3.0."), "an OpenAPI 3.0 document");
        assertTrue(document.get("info").hasNonNull("title"));
        assertTrue(document.get("info").hasNonNull("version"));
        JsonNode paths = document.get("paths");
        assertTrue(paths.isObject() && !paths.isEmpty());

        Set<String> documented = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = paths.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> path = it.next();
            for (Iterator<Map.Entry<String, JsonNode>> ops = path.getValue().fields(); ops.hasNext();) {
                Map.Entry<String, JsonNode> operation = ops.next();
                if (!METHODS.contains(operation.getKey())) {
                    continue;
                }
                documented.add(operation.getKey().toUpperCase(Locale.ROOT) + " " + path.getKey());
                assertTrue(operation.getValue().get("responses").size() > 0, path.getKey() + " has responses");
                for (JsonNode parameter : operation.getValue().path("parameters")) {
                    if (parameter.get("in").asText().equals("path")) {
                        assertTrue(path.getKey().contains("{" + parameter.get("name").asText() + "}"),
                                "path parameter " + parameter + " is in " + path.getKey());
                    }
                }
            }
        }
        Set<String> registered = new TreeSet<>(transport.registeredRoutes());
        assertTrue(registered.contains("PUT /admin/plugins/{kind}"), "the admin routes are registered: " + registered);
        assertEquals(registered, documented);
        assertRefsResolve(document, document);
    }

    private static void assertRefsResolve(JsonNode document, JsonNode node) {
        if (node.has("$ref")) {
            String ref = node.get("$ref").asText();
            assertTrue(ref.startsWith("#/"), ref);
            assertTrue(!document.at(ref.substring(1)).isMissingNode(), "unresolved " + ref);
        }
        node.forEach(child -> assertRefsResolve(document, child));
    }
}
