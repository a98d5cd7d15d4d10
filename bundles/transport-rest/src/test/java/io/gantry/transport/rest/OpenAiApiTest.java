package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.gantry.api.inference.ChatMessage;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The OpenAI-compatible endpoints over real HTTP, on the real engine serving stories260K: response shapes, the
 * text each request generates (compared with the same request submitted straight to the engine), sampling
 * parameters, several choices, log-probabilities, and streams checked event by event.
 */
class OpenAiApiTest {

    private static final String MODEL = TestEngine.MODEL;
    private static final String CHAT = """
            {"model": "stories260K", "messages": [{"role": "user", "content": "Once upon a time"}],
             "temperature": 0, "max_tokens": 30%s}""";

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine();

    private static String chat(String extra) {
        return CHAT.formatted(extra);
    }

    private static String greedyChatText(int maxTokens) throws Exception {
        return SERVED.engine().generate(new GenerationRequest(MODEL,
                new Prompt.Chat(List.of(new ChatMessage("user", "Once upon a time"))), SamplingParams.GREEDY,
                maxTokens, List.of(), null, false, -1, 0, null, null));
    }

    @Test
    void chatCompletionHasTheOpenAiShapeAndTheEnginesText() throws Exception {
        HttpTestClient.Response response = SERVED.http().post("/v1/chat/completions", chat(""));
        assertEquals(200, response.status(), response.raw().body());
        assertEquals("application/json", response.header("Content-Type").split(";")[0]);
        JsonNode json = response.json();
        assertTrue(json.get("id").asText().startsWith("chatcmpl-"));
        assertEquals("chat.completion", json.get("object").asText());
        assertTrue(json.get("created").isIntegralNumber());
        assertEquals(MODEL, json.get("model").asText());
        JsonNode choice = json.get("choices").get(0);
        assertEquals(1, json.get("choices").size());
        assertEquals(0, choice.get("index").asInt());
        assertEquals("assistant", choice.get("message").get("role").asText());
        String content = choice.get("message").get("content").asText();
        assertEquals(greedyChatText(30), content);
        assertTrue(choice.get("logprobs").isNull());
        String finish = choice.get("finish_reason").asText();
        JsonNode usage = json.get("usage");
        int completionTokens = usage.get("completion_tokens").asInt();
        assertEquals(finish.equals("length") ? 30 : completionTokens, completionTokens);
        assertTrue(finish.equals("length") || finish.equals("stop"), finish);
        assertTrue(usage.get("prompt_tokens").asInt() > 3);
        assertEquals(usage.get("prompt_tokens").asInt() + completionTokens, usage.get("total_tokens").asInt());
    }

    @Test
    void textCompletionStopsAtMaxTokensOrAtAStopString() throws Exception {
        JsonNode json = SERVED.http().post("/v1/completions", """
                {"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 12, "temperature": 0,
                 "ignore_eos": true}""").json();
        assertTrue(json.get("id").asText().startsWith("cmpl-"));
        assertEquals("text_completion", json.get("object").asText());
        JsonNode choice = json.get("choices").get(0);
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(12, json.get("usage").get("completion_tokens").asInt());
        String text = choice.get("text").asText();
        assertEquals(SERVED.engine().generate(new GenerationRequest(MODEL, new Prompt.Text("Once upon a time"),
                SamplingParams.GREEDY, 12, List.of(), null, true, -1, 0, null, null)), text);

        // A stop string taken from the text itself ends generation before it, with finish_reason stop.
        String stop = text.substring(text.length() / 2, text.length() / 2 + 3);
        JsonNode stopped = SERVED.http().post("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stop": %s}"""
                .formatted(HttpTestClient.JSON.writeValueAsString(List.of(stop)))).json().get("choices").get(0);
        assertEquals("stop", stopped.get("finish_reason").asText());
        assertEquals(text.substring(0, text.indexOf(stop)), stopped.get("text").asText());
    }

    @Test
    void withoutMaxTokensGenerationMayRunUntilTheContextIsFull() throws Exception {
        // The engine's own tests run such a request to the full context; a stop string ends this one early.
        JsonNode json = SERVED.http().post("/v1/completions", """
                {"prompt": "Once upon a time", "temperature": 0, "user": "tester", "stop": " park"}""").json();
        GenerationRequest submitted = SERVED.engine().requests.getLast();
        assertEquals(GenerationRequest.UNTIL_CONTEXT_FULL, submitted.maxTokens());
        assertEquals("tester", submitted.user());
        assertEquals("stop", json.get("choices").get(0).get("finish_reason").asText());
        assertEquals(SERVED.engine().generate(new GenerationRequest(MODEL, new Prompt.Text("Once upon a time"),
                SamplingParams.GREEDY, GenerationRequest.UNTIL_CONTEXT_FULL, List.of(" park"), null, false, -1, 0,
                null, null)), json.get("choices").get(0).get("text").asText());
    }

    @Test
    void severalChoicesWithASeedAreEachReproducibleAsSeedPlusIndex() throws Exception {
        JsonNode json = SERVED.http().post("/v1/chat/completions",
                chat(", \"temperature\": 1.0, \"n\": 3, \"seed\": 42")).json();
        JsonNode choices = json.get("choices");
        assertEquals(3, choices.size());
        int completionTokens = 0;
        for (int i = 0; i < 3; i++) {
            assertEquals(i, choices.get(i).get("index").asInt());
            JsonNode alone = SERVED.http().post("/v1/chat/completions",
                    chat(", \"temperature\": 1.0, \"seed\": " + (42 + i))).json();
            assertEquals(alone.get("choices").get(0).get("message").get("content").asText(),
                    choices.get(i).get("message").get("content").asText(), "choice " + i + " is seed " + (42 + i));
            completionTokens += alone.get("usage").get("completion_tokens").asInt();
            assertEquals(alone.get("usage").get("prompt_tokens").asInt(),
                    json.get("usage").get("prompt_tokens").asInt(), "the prompt counts once");
        }
        assertEquals(completionTokens, json.get("usage").get("completion_tokens").asInt());
    }

    @Test
    void severalPromptsGetTheirChoicesInPromptOrder() throws Exception {
        JsonNode choices = SERVED.http().post("/v1/completions", """
                {"prompt": ["Once upon a time", "The cat"], "n": 2, "max_tokens": 5, "temperature": 0}""")
                .json().get("choices");
        assertEquals(4, choices.size());
        for (int i = 0; i < 4; i++) {
            assertEquals(i, choices.get(i).get("index").asInt());
        }
        assertEquals(choices.get(0).get("text"), choices.get(1).get("text"), "greedy choices of one prompt agree");
        assertEquals(choices.get(2).get("text"), choices.get(3).get("text"));
        assertFalse(choices.get(0).get("text").equals(choices.get(2).get("text")));
    }

    @Test
    void tokenIdPromptsGiveTheSameTextAsTheirString() throws Exception {
        JsonNode tokens = SERVED.http().post("/tokenize", """
                {"content": "Once upon a time", "add_special": true}""").json().get("tokens");
        String byTokens = SERVED.http().post("/v1/completions", """
                {"prompt": %s, "max_tokens": 8, "temperature": 0}""".formatted(tokens)).json()
                .get("choices").get(0).get("text").asText();
        String byText = SERVED.http().post("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}""").json()
                .get("choices").get(0).get("text").asText();
        assertEquals(byText, byTokens);
    }

    @Test
    void chatLogprobsListEveryTokenWithItsAlternatives() throws Exception {
        JsonNode choice = SERVED.http().post("/v1/chat/completions",
                chat(", \"logprobs\": true, \"top_logprobs\": 3, \"ignore_eos\": true")).json().get("choices").get(0);
        JsonNode content = choice.get("logprobs").get("content");
        assertEquals(30, content.size());
        StringBuilder joined = new StringBuilder();
        for (JsonNode entry : content) {
            joined.append(entry.get("token").asText());
            assertTrue(entry.get("logprob").asDouble() <= 0);
            assertEquals(3, entry.get("top_logprobs").size());
            // Greedy: the chosen token is the most likely one.
            assertEquals(entry.get("top_logprobs").get(0).get("logprob").asDouble(), entry.get("logprob").asDouble(),
                    1e-5);
            assertTrue(entry.get("bytes").isArray());
        }
        assertEquals(choice.get("message").get("content").asText(), joined.toString());
    }

    @Test
    void textLogprobsHaveOneEntryPerTokenAndItsOffset() throws Exception {
        JsonNode choice = SERVED.http().post("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0, "logprobs": 2,
                 "ignore_eos": true}""").json().get("choices").get(0);
        JsonNode logprobs = choice.get("logprobs");
        assertEquals(10, logprobs.get("tokens").size());
        assertEquals(10, logprobs.get("token_logprobs").size());
        assertEquals(10, logprobs.get("top_logprobs").size());
        String text = choice.get("text").asText();
        for (int i = 0; i < 10; i++) {
            int offset = logprobs.get("text_offset").get(i).asInt();
            assertTrue(text.startsWith(logprobs.get("tokens").get(i).asText(), offset));
            assertTrue(logprobs.get("top_logprobs").get(i).size() <= 2);
        }
    }

    @Test
    void aChatStreamSendsTheRoleThenTheTextThenTheFinishAndDone() throws Exception {
        HttpTestClient.Events events = SERVED.http().stream("/v1/chat/completions", chat(", \"stream\": true"));
        assertEquals(200, events.status());
        assertTrue(events.contentType().startsWith("text/event-stream"), events.contentType());
        assertEquals("[DONE]", events.data().getLast());
        List<JsonNode> chunks = events.chunks();
        assertEquals(events.data().size() - 1, chunks.size());
        String id = chunks.getFirst().get("id").asText();
        assertTrue(id.startsWith("chatcmpl-"));
        JsonNode first = chunks.getFirst().get("choices").get(0);
        assertEquals("assistant", first.get("delta").get("role").asText());
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < chunks.size(); i++) {
            JsonNode chunk = chunks.get(i);
            assertEquals(id, chunk.get("id").asText(), "every chunk carries the response's id");
            assertEquals("chat.completion.chunk", chunk.get("object").asText());
            assertFalse(chunk.has("usage"), "no usage unless asked for");
            JsonNode choice = chunk.get("choices").get(0);
            boolean last = i == chunks.size() - 1;
            assertEquals(last, !choice.get("finish_reason").isNull(), "only the last chunk finishes, chunk " + i);
            if (i > 0 && !last) {
                String delta = choice.get("delta").get("content").asText();
                assertFalse(delta.isEmpty(), "a text chunk carries text");
                content.append(delta);
            }
        }
        assertEquals(greedyChatText(30), content.toString());
        String finish = chunks.getLast().get("choices").get(0).get("finish_reason").asText();
        assertTrue(finish.equals("stop") || finish.equals("length"));
    }

    @Test
    void aStreamWithIncludeUsageEndsWithAUsageChunk() throws Exception {
        List<JsonNode> chunks = SERVED.http().stream("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 9, "temperature": 0, "ignore_eos": true,
                 "stream": true, "stream_options": {"include_usage": true}}""").chunks();
        JsonNode usageChunk = chunks.getLast();
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(9, usageChunk.get("usage").get("completion_tokens").asInt());
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertEquals("text_completion", chunk.get("object").asText());
            assertTrue(chunk.get("usage").isNull(), "the other chunks carry usage null");
            text.append(chunk.get("choices").get(0).get("text").asText());
        }
        assertEquals("length", chunks.get(chunks.size() - 2).get("choices").get(0).get("finish_reason").asText());
        assertEquals(SERVED.engine().generate(new GenerationRequest(MODEL, new Prompt.Text("Once upon a time"),
                SamplingParams.GREEDY, 9, List.of(), null, true, -1, 0, null, null)), text.toString());
    }

    @Test
    void aStreamOfSeveralChoicesFinishesEachOnce() throws Exception {
        List<JsonNode> chunks = SERVED.http().stream("/v1/chat/completions",
                chat(", \"stream\": true, \"n\": 2, \"seed\": 7, \"temperature\": 0.8")).chunks();
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder()};
        int[] finishes = new int[2];
        int[] roles = new int[2];
        for (JsonNode chunk : chunks) {
            JsonNode choice = chunk.get("choices").get(0);
            int index = choice.get("index").asInt();
            if (choice.get("delta").has("role")) {
                roles[index]++;
            } else if (choice.get("delta").has("content")) {
                texts[index].append(choice.get("delta").get("content").asText());
            }
            if (!choice.get("finish_reason").isNull()) {
                finishes[index]++;
            }
        }
        assertEquals(List.of(1, 1), List.of(roles[0], roles[1]));
        assertEquals(List.of(1, 1), List.of(finishes[0], finishes[1]));
        JsonNode whole = SERVED.http().post("/v1/chat/completions",
                chat(", \"n\": 2, \"seed\": 7, \"temperature\": 0.8")).json().get("choices");
        for (int i = 0; i < 2; i++) {
            assertEquals(whole.get(i).get("message").get("content").asText(), texts[i].toString());
        }
    }

    @Test
    void modelsAreListedAndFoundById() throws Exception {
        JsonNode list = SERVED.http().get("/v1/models").json();
        assertEquals("list", list.get("object").asText());
        JsonNode model = list.get("data").get(0);
        assertEquals(MODEL, model.get("id").asText());
        assertEquals("model", model.get("object").asText());
        assertEquals("gantry", model.get("owned_by").asText());
        assertTrue(model.get("created").asLong() > 0);
        assertEquals(SERVED.engine().models().getFirst().contextLength(),
                model.get("meta").get("context_length").asInt());
        assertEquals(model, SERVED.http().get("/v1/models/" + MODEL).json());
        assertEquals(404, SERVED.http().get("/v1/models/nope").status());
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() throws Exception {
        JsonNode tokens = SERVED.http().post("/tokenize", "{\"content\": \"Once upon a time\"}").json().get("tokens");
        int[] expected = SERVED.engine().tokenize(MODEL, "Once upon a time", false, true);
        assertEquals(expected.length, tokens.size());
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], tokens.get(i).asInt());
        }
        JsonNode withBos = SERVED.http().post("/tokenize", "{\"content\": \"Once upon a time\", \"add_special\": true}")
                .json().get("tokens");
        assertEquals(expected.length + 1, withBos.size());

        JsonNode pieces = SERVED.http().post("/tokenize", "{\"content\": \"Once upon a time\", \"with_pieces\": true}")
                .json().get("tokens");
        StringBuilder joined = new StringBuilder();
        for (int i = 0; i < pieces.size(); i++) {
            assertEquals(expected[i], pieces.get(i).get("id").asInt());
            joined.append(pieces.get(i).get("piece").asText());
        }
        assertEquals("Once upon a time", joined.toString());

        assertEquals("Once upon a time", SERVED.http().post("/detokenize", "{\"tokens\": " + tokens + "}").json()
                .get("content").asText());
    }

    @Test
    void theBriefsGenerateEndpointAnswersWithTextFinishReasonAndUsage() throws Exception {
        HttpTestClient.Response response = SERVED.http().post("/v1/models/stories260K/generate", """
                {"prompt": "Once upon a time", "max_tokens": 16, "temperature": 0}""");
        assertEquals(200, response.status());
        JsonNode json = response.json();
        assertEquals(SERVED.engine().generate(new GenerationRequest(MODEL, new Prompt.Text("Once upon a time"),
                SamplingParams.GREEDY, 16, List.of(), null, false, -1, 0, null, null)), json.get("text").asText());
        assertNotNull(json.get("finish_reason").asText());
        assertEquals(json.get("usage").get("prompt_tokens").asInt() + json.get("usage").get("completion_tokens")
                .asInt(), json.get("usage").get("total_tokens").asInt());
        assertEquals(404, SERVED.http().post("/v1/models/nope/generate", "{\"prompt\": \"Hi\"}").status());
    }

    @Test
    void healthIsOkWhileAModelIsServed() throws Exception {
        assertEquals(200, SERVED.http().get("/health").status());
        assertEquals("ok", SERVED.http().get("/healthz").json().get("status").asText());
        HttpTestClient.Response ready = SERVED.http().get("/ready");
        assertEquals(200, ready.status());
        assertEquals(MODEL, ready.json().get("models").get(0).asText());
    }
}
