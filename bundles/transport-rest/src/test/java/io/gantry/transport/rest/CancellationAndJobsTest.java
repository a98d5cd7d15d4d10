package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GenerationHandle;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What outlives a single response: a client that leaves mid-stream cancels its request and the engine frees its KV
 * space; asynchronous jobs run without a client, are polled, cancelled, and expire once finished.
 */
class CancellationAndJobsTest {

    private static final Duration JOB_TTL = Duration.ofMillis(300);

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine(ServedEngine.settings(JOB_TTL));

    @AfterEach
    void fullSpeed() {
        SERVED.engine().tokenDelayNanos = 0;
    }

    @Test
    void aClientThatLeavesMidStreamCancelsItsRequestAndFreesItsKv() throws Exception {
        SERVED.engine().tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(3);
        int submittedBefore = SERVED.engine().handles.size();
        String body = """
                {"messages": [{"role": "user", "content": "Once upon a time"}], "stream": true,
                 "max_tokens": 400, "ignore_eos": true, "temperature": 0}""";
        try (Socket socket = new Socket("127.0.0.1", SERVED.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            String received = "";
            byte[] buffer = new byte[4096];
            // Read until a few content chunks have arrived: the request is generating.
            while (received.split("\"content\"", -1).length < 5) {
                int n = in.read(buffer);
                assertTrue(n > 0, "the stream ended early: " + received);
                received += new String(buffer, 0, n, StandardCharsets.UTF_8);
            }
            assertTrue(received.startsWith("HTTP/1.1 200"), received);
        }
        assertEquals(submittedBefore + 1, SERVED.engine().handles.size());
        GenerationHandle handle = SERVED.engine().handles.getLast();
        Completion completion = handle.completion().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(FinishReason.CANCELLED, completion.reason());
        assertTrue(completion.completionTokens() < 400, "cancelled long before its end: "
                + completion.completionTokens());
        assertEquals(0, SERVED.engine().allocator.stats().usedBlocks(), "the engine freed the request's KV blocks");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (SERVED.server().activeRequests() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, SERVED.server().activeRequests(), "the handler let go of the generation");
    }

    @Test
    void aJobRunsWithoutItsClientAndGivesTheSameResultAsTheSynchronousCall() throws Exception {
        String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 20, \"temperature\": 0}";
        HttpTestClient.Response accepted = SERVED.http().post("/v1/models/stories260K/generate?async=true", body);
        assertEquals(202, accepted.status(), accepted.raw().body());
        String id = accepted.json().get("id").asText();
        assertTrue(id.startsWith("job-"));
        assertEquals("/v1/jobs/" + id, accepted.header("Location"));
        assertEquals("generation.job", accepted.json().get("object").asText());
        assertTrue(accepted.json().get("status").asText().matches("queued|running|succeeded"));

        JsonNode job = awaitStatus(id, "succeeded");
        JsonNode direct = SERVED.http().post("/v1/models/stories260K/generate", body).json();
        for (String field : new String[] {"model", "text", "finish_reason"}) {
            assertEquals(direct.get(field), job.get("result").get(field), field);
        }
        assertEquals(direct.get("usage").get("completion_tokens"), job.get("result").get("usage")
                .get("completion_tokens"));
        assertNull(job.get("error"));
    }

    @Test
    void deletingARunningJobCancelsIt() throws Exception {
        SERVED.engine().tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(3);
        String id = SERVED.http().post("/v1/models/stories260K/generate?async=true",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 400, \"ignore_eos\": true}").json()
                .get("id").asText();
        awaitStatus(id, "running");
        HttpTestClient.Response deleted = SERVED.http().delete("/v1/jobs/" + id);
        assertEquals(200, deleted.status());
        assertEquals("cancelled", deleted.json().get("status").asText());
        assertEquals("cancelled", deleted.json().get("result").get("finish_reason").asText());
        assertTrue(deleted.json().get("result").get("usage").get("completion_tokens").asInt() < 400);
        assertEquals(0, SERVED.engine().allocator.stats().usedBlocks());
    }

    @Test
    void aFinishedJobExpiresAfterItsTimeToLive() throws Exception {
        // Slow enough to be running when it is stored: its time to live starts when it finishes.
        SERVED.engine().tokenDelayNanos = TimeUnit.MILLISECONDS.toNanos(3);
        String id = SERVED.http().post("/v1/models/stories260K/generate?async=true",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 400, \"ignore_eos\": true}").json()
                .get("id").asText();
        Thread.sleep(JOB_TTL.toMillis() + 100);
        assertEquals("running", SERVED.http().get("/v1/jobs/" + id).json().get("status").asText(),
                "a running job does not expire");
        awaitStatus(id, "succeeded");
        Thread.sleep(JOB_TTL.toMillis() * 2);
        assertEquals(404, SERVED.http().get("/v1/jobs/" + id).status());
    }

    @Test
    void aRefusedJobIsAnErrorAtOnce() throws Exception {
        HttpTestClient.Response refused = SERVED.http().post("/v1/models/stories260K/generate?async=true",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 100000}");
        assertEquals(400, refused.status());
        assertEquals("context_length_exceeded", refused.error().get("code").asText());
    }

    private static JsonNode awaitStatus(String id, String status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            JsonNode job = SERVED.http().get("/v1/jobs/" + id).json();
            if (job.get("status").asText().equals(status)) {
                return job;
            }
            assertTrue(System.nanoTime() < deadline, "job " + id + " never became " + status + ": " + job);
            Thread.sleep(10);
        }
    }
}
