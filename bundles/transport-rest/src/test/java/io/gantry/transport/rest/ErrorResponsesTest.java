package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every way a request can be wrong gets an OpenAI error object with the right status, and none of them disturbs
 * the server: after a burst of random and malformed bodies it still answers a normal request correctly.
 */
class ErrorResponsesTest {

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine();

    private static JsonNode assertError(HttpTestClient.Response response, int status, String type) {
        assertEquals(status, response.status(), response.raw().body());
        assertEquals("application/json", response.header("Content-Type").split(";")[0]);
        JsonNode error = response.error();
        assertNotNull(error, response.raw().body());
        assertEquals(type, error.get("type").asText());
        assertTrue(error.has("param") && error.has("code"));
        assertTrue(error.get("message").asText().length() > 10, "a message that says what is wrong");
        return error;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            not JSON                     | {"messages": [                                                   |
            not an object                | [1, 2, 3]                                                        |
            empty body                   | ''                                                               |
            no messages                  | {"model": "stories260K"}                                         | messages
            empty messages               | {"messages": []}                                                 | messages
            message without role         | {"messages": [{"content": "Hi"}]}                                | messages[0].role
            content of the wrong type    | {"messages": [{"role": "user", "content": 5}]}                   | messages[0].content
            image content                | {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]} | messages[0].content
            temperature as a string      | {"messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"} | temperature
            max_tokens as a float        | {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2.5} | max_tokens
            max_tokens zero              | {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 0} | max_tokens
            n zero                       | {"messages": [{"role": "user", "content": "Hi"}], "n": 0}        | n
            too many choices             | {"messages": [{"role": "user", "content": "Hi"}], "n": 1000}     | n
            stop of the wrong type       | {"messages": [{"role": "user", "content": "Hi"}], "stop": 3}     | stop
            top_logprobs without logprobs| {"messages": [{"role": "user", "content": "Hi"}], "top_logprobs": 2} | top_logprobs
            tools                        | {"messages": [{"role": "user", "content": "Hi"}], "tools": [{"type": "function"}]} | tools
            seed too large               | {"messages": [{"role": "user", "content": "Hi"}], "seed": 1e30}  | seed
            """)
    void malformedChatRequestsAreRefusedWith400NamingTheField(String name, String body, String param)
            throws Exception {
        JsonNode error = assertError(SERVED.http().post("/v1/chat/completions", body), 400, "invalid_request_error");
        if (param != null) {
            assertEquals(param, error.get("param").asText(), error.toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            top_p zero               | "top_p": 0                 | top_p must be greater than 0
            temperature too high     | "temperature": 500         | temperature must be between
            presence out of range    | "presence_penalty": 3      | presence_penalty must be between
            negative top_k           | "top_k": -1                | top_k must be
            too many top_logprobs    | "logprobs": 50             | between 0 and 20
            empty stop string        | "stop": [""]               | stop strings must not be empty
            """)
    void outOfRangeValuesAreRefusedWithTheEnginesMessage(String name, String field, String message)
            throws Exception {
        JsonNode error = assertError(SERVED.http().post("/v1/completions", "{\"prompt\": \"Hi\", " + field + "}"), 400,
                "invalid_request_error");
        assertTrue(error.get("message").asText().contains(message), error.toString());
    }

    @Test
    void anUnknownModelIs404() throws Exception {
        JsonNode error = assertError(SERVED.http().post("/v1/chat/completions",
                "{\"model\": \"gpt-9\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}"), 404,
                "invalid_request_error");
        assertEquals("model_not_found", error.get("code").asText());
        assertEquals("model", error.get("param").asText());
    }

    @Test
    void aPromptLongerThanTheContextIs400ContextLengthExceeded() throws Exception {
        // About ten tokens a sentence: over twice the context.
        String longPrompt = "Once upon a time there was a cat. "
                .repeat(SERVED.engine().models().getFirst().contextLength() / 4);
        JsonNode error = assertError(SERVED.http().post("/v1/completions", "{\"prompt\": \"" + longPrompt + "\"}"), 400,
                "invalid_request_error");
        assertEquals("context_length_exceeded", error.get("code").asText());
        assertEquals("prompt", error.get("param").asText());
        JsonNode tooMany = assertError(SERVED.http().post("/v1/chat/completions",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 100000}"), 400,
                "invalid_request_error");
        assertEquals("context_length_exceeded", tooMany.get("code").asText());
        assertEquals("messages", tooMany.get("param").asText());
        // The largest int is what the engine takes for "no max_tokens": asked for explicitly, it is refused too.
        JsonNode largest = assertError(SERVED.http().post("/v1/completions",
                "{\"prompt\": \"Hi\", \"max_tokens\": 2147483647}"), 400, "invalid_request_error");
        assertEquals("context_length_exceeded", largest.get("code").asText());
        assertEquals("max_tokens", largest.get("param").asText());
    }

    @Test
    void aBodyOverTheLimitIs413() throws Exception {
        String huge = "{\"prompt\": \"" + "a".repeat(100 * 1024) + "\"}";
        JsonNode error = assertError(SERVED.http().post("/v1/completions", huge), 413, "invalid_request_error");
        assertEquals("request_too_large", error.get("code").asText());
    }

    @Test
    void invalidUtf8Is400() throws Exception {
        byte[] body = "{\"prompt\": \"Hi \u0000\"}".getBytes(StandardCharsets.UTF_8);
        body[body.length - 3] = (byte) 0xC3; // a lead byte followed by '"', not a continuation byte
        JsonNode error = assertError(SERVED.http().post("/v1/completions", body), 400, "invalid_request_error");
        assertTrue(error.get("message").asText().contains("UTF-8"));
    }

    @Test
    void unknownPathsAndJobsAre404InOpenAiShape() throws Exception {
        assertError(SERVED.http().get("/v1/nothing"), 404, "invalid_request_error");
        assertError(SERVED.http().get("/v1/jobs/job-does-not-exist"), 404, "invalid_request_error");
    }

    @Test
    void unknownFieldsAreIgnored() throws Exception {
        HttpTestClient.Response response = SERVED.http().post("/v1/completions", """
                {"prompt": "Hi", "max_tokens": 3, "some_future_option": {"x": [1, 2]}, "metadata": null}""");
        assertEquals(200, response.status(), response.raw().body());
    }

    @Test
    void aBurstOfRandomBodiesLeavesTheServerServing() throws Exception {
        Random random = new Random(5);
        String[] fragments = {"{", "}", "[", "]", "\"messages\"", "\"prompt\"", ":", ",", "\"role\"", "\"content\"",
            "\"user\"", "null", "true", "-1", "1e999", "\"temperature\"", "\"n\"", "\"max_tokens\"", "\"stream\"",
            "0", "\"\\u0000\"", "\"stop\"", "\"model\"", "\"stories260K\"", "\"logprobs\"", "99999999999"};
        String[] paths = {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize",
            "/v1/models/stories260K/generate"};
        for (int i = 0; i < 300; i++) {
            StringBuilder body = new StringBuilder();
            int length = random.nextInt(30);
            for (int j = 0; j < length; j++) {
                body.append(fragments[random.nextInt(fragments.length)]);
            }
            HttpTestClient.Response response = SERVED.http().post(paths[i % paths.length], body.toString());
            assertTrue(response.status() == 200 || response.status() >= 400 && response.status() < 500,
                    "body " + body + " got " + response.status() + " " + response.raw().body());
            if (response.status() != 200) {
                assertNotNull(response.error(), response.raw().body());
            }
        }
        HttpTestClient.Response normal = SERVED.http().post("/v1/completions",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 5, \"temperature\": 0}");
        assertEquals(200, normal.status());
        assertEquals(SERVED.engine().generate(new GenerationRequest(TestEngine.MODEL,
                new Prompt.Text("Once upon a time"), SamplingParams.GREEDY, 5, List.of(), null, false, -1, 0, null,
                null)),
                normal.json().get("choices").get(0).get("text").asText());
        assertEquals(0, SERVED.engine().allocator.stats().usedBlocks(), "no request is left holding KV space");
    }
}
