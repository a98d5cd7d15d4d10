package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * gzip over real HTTP: compressed request bodies are accepted and limited after inflating (a zip bomb gets 413),
 * damaged ones get 400, other encodings 415; responses are compressed for clients that accept gzip, streams never.
 */
class GzipTest {

    private static final String COMPLETION = """
            {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}""";
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine();

    private static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + SERVED.port() + path))
                .header("Content-Type", "application/json");
    }

    private static HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
        return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static HttpResponse<byte[]> postGzipped(byte[] body) throws Exception {
        return send(request("/v1/completions").header("Content-Encoding", "gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(bytes);
        }
        return out.toByteArray();
    }

    private static JsonNode json(HttpResponse<byte[]> response) throws IOException {
        boolean gzipped = "gzip".equals(response.headers().firstValue("Content-Encoding").orElse(null));
        try (InputStream in = gzipped ? new GZIPInputStream(new ByteArrayInputStream(response.body()))
                : new ByteArrayInputStream(response.body())) {
            return HttpTestClient.JSON.readTree(in);
        }
    }

    @Test
    void aGzippedRequestBodyIsAnsweredLikeAPlainOne() throws Exception {
        HttpResponse<byte[]> plain = send(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(
                COMPLETION)));
        HttpResponse<byte[]> gzipped = postGzipped(gzip(COMPLETION.getBytes(StandardCharsets.UTF_8)));
        assertEquals(200, gzipped.statusCode(), new String(gzipped.body(), StandardCharsets.UTF_8));
        assertEquals(json(plain).get("choices").get(0).get("text"), json(gzipped).get("choices").get(0).get("text"));
    }

    @Test
    void aZipBombGets413AndTheServerGoesOn() throws Exception {
        // 32 MiB of JSON inflating from a few tens of KiB: under the 64 KiB limit on the wire, far over it inflated.
        byte[] huge = new byte[32 << 20];
        java.util.Arrays.fill(huge, (byte) 'a');
        byte[] prefix = "{\"prompt\": \"".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(prefix, 0, huge, 0, prefix.length);
        byte[] bomb = gzip(huge);
        assertTrue(bomb.length < 64 * 1024, "the bomb is small on the wire: " + bomb.length);
        HttpResponse<byte[]> response = postGzipped(bomb);
        assertEquals(413, response.statusCode());
        assertEquals("request_too_large", json(response).get("error").get("code").asText());
        assertEquals(200, postGzipped(gzip(COMPLETION.getBytes(StandardCharsets.UTF_8))).statusCode());
    }

    @Test
    void aDamagedOrUnknownEncodingIsRefused() throws Exception {
        HttpResponse<byte[]> notGzip = postGzipped(COMPLETION.getBytes(StandardCharsets.UTF_8));
        assertEquals(400, notGzip.statusCode());
        assertTrue(json(notGzip).get("error").get("message").asText().contains("gzip"));

        byte[] truncated = gzip(COMPLETION.getBytes(StandardCharsets.UTF_8));
        truncated = java.util.Arrays.copyOf(truncated, truncated.length - 12);
        assertEquals(400, postGzipped(truncated).statusCode());

        HttpResponse<byte[]> brotli = send(request("/v1/completions").header("Content-Encoding", "br")
                .POST(HttpRequest.BodyPublishers.ofString(COMPLETION)));
        assertEquals(415, brotli.statusCode());
        assertEquals("unsupported_content_encoding", json(brotli).get("error").get("code").asText());
    }

    @Test
    void responsesAreCompressedForClientsThatAcceptGzipButStreamsAreNot() throws Exception {
        HttpResponse<byte[]> compressed = send(request("/v1/completions").header("Accept-Encoding", "br, gzip;q=0.8")
                .POST(HttpRequest.BodyPublishers.ofString(COMPLETION)));
        assertEquals(200, compressed.statusCode());
        assertEquals("gzip", compressed.headers().firstValue("Content-Encoding").orElse(null));
        assertEquals("text_completion", json(compressed).get("object").asText());

        HttpResponse<byte[]> refused = send(request("/v1/completions").header("Accept-Encoding", "gzip;q=0")
                .POST(HttpRequest.BodyPublishers.ofString(COMPLETION)));
        assertNull(refused.headers().firstValue("Content-Encoding").orElse(null));
        assertEquals("text_completion", json(refused).get("object").asText());

        HttpResponse<byte[]> metrics = send(request("/metrics").header("Accept-Encoding", "gzip").GET());
        assertEquals("gzip", metrics.headers().firstValue("Content-Encoding").orElse(null));

        HttpResponse<byte[]> stream = send(request("/v1/completions").header("Accept-Encoding", "gzip")
                .POST(HttpRequest.BodyPublishers.ofString(COMPLETION.replace("}", ", \"stream\": true}"))));
        assertEquals(200, stream.statusCode());
        assertFalse(stream.headers().firstValue("Content-Encoding").isPresent());
        String events = new String(stream.body(), StandardCharsets.UTF_8);
        assertTrue(events.startsWith("data: ") && events.endsWith("data: [DONE]\n\n"), events);
    }

    @Test
    void acceptEncodingIsParsedWithQualities() {
        assertTrue(Compression.acceptsGzip("gzip"));
        assertTrue(Compression.acceptsGzip("deflate, GZIP;q=0.5"));
        assertTrue(Compression.acceptsGzip("*"));
        assertFalse(Compression.acceptsGzip("gzip;q=0, br"));
        assertFalse(Compression.acceptsGzip("identity"));
        assertFalse(Compression.acceptsGzip(null));
    }
}
