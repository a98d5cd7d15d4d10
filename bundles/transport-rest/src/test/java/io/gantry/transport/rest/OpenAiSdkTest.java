package io.gantry.transport.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;

import io.gantry.api.inference.ChatMessage;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;

import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The official OpenAI Java SDK as a client, the way users meet Gantry: chat, text completion, streaming, models. */
class OpenAiSdkTest {

    private static final String MODEL = TestEngine.MODEL;

    @RegisterExtension
    static final ServedEngine SERVED = new ServedEngine();

    private static OpenAIClient client;

    @BeforeAll
    static void start() {
        client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + SERVED.port() + "/v1")
                .apiKey("not-checked").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
    }

    private static ChatCompletionCreateParams chat() {
        return ChatCompletionCreateParams.builder().model(MODEL).addUserMessage("Once upon a time")
                .maxCompletionTokens(24).temperature(0.0).build();
    }

    private static String engineChatText() throws Exception {
        return SERVED.engine().generate(new GenerationRequest(MODEL,
                new Prompt.Chat(List.of(new ChatMessage("user", "Once upon a time"))), SamplingParams.GREEDY, 24,
                List.of(), null, false, -1, 0, null, null));
    }

    @Test
    void chatCompletion() throws Exception {
        ChatCompletion completion = client.chat().completions().create(chat());
        completion.validate();
        assertEquals(MODEL, completion.model());
        ChatCompletion.Choice choice = completion.choices().getFirst();
        assertEquals(engineChatText(), choice.message().content().orElseThrow());
        assertTrue(List.of(ChatCompletion.Choice.FinishReason.LENGTH, ChatCompletion.Choice.FinishReason.STOP)
                .contains(choice.finishReason()), choice.finishReason().toString());
        long completionTokens = completion.usage().orElseThrow().completionTokens();
        assertTrue(completionTokens > 0 && completionTokens <= 24);
    }

    @Test
    void streamingChatCompletion() throws Exception {
        StringBuilder text = new StringBuilder();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(chat())) {
            for (ChatCompletionChunk chunk : stream.stream().toList()) {
                chunk.validate();
                chunks++;
                chunk.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
            }
        }
        assertTrue(chunks > 2, "the text came in several chunks");
        assertEquals(engineChatText(), text.toString());
    }

    @Test
    void textCompletion() throws Exception {
        Completion completion = client.completions().create(CompletionCreateParams.builder().model(MODEL)
                .prompt("Once upon a time").maxTokens(10).temperature(0.0).build());
        completion.validate();
        assertEquals(SERVED.engine().generate(new GenerationRequest(MODEL, new Prompt.Text("Once upon a time"),
                SamplingParams.GREEDY, 10, List.of(), null, false, -1, 0, null, null)),
                completion.choices().getFirst().text());
    }

    @Test
    void modelsAndErrors() {
        List<Model> models = client.models().list().items();
        assertEquals(MODEL, models.getFirst().id());
        NotFoundException error = assertThrows(NotFoundException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt-9").addUserMessage("Hi").build()));
        assertFalse(error.getMessage().isEmpty());
    }
}
