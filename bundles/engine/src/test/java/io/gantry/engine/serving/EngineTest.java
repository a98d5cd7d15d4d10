package io.gantry.engine.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.inference.ChatMessage;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.Prompt;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.SharedModels;
import io.gantry.kv.paged.PagedKvAllocator;
import io.gantry.scheduler.continuous.ContinuousScheduler;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The InferenceService over model servers, outside OSGi, on stories260K. */
class EngineTest {

    @Test
    void servesTextTokensAndChatPromptsAndRefusesUnknownModels() throws Exception {
        try (CpuBackend backend = new CpuBackend(2, true)) {
            DirectPlugins plugins = new DirectPlugins(backend, new PagedKvAllocator(16, true),
                    new ContinuousScheduler());
            ServingLimits limits = new ServingLimits(4, 64, 16, 8L << 20, Duration.ofMinutes(1));
            Engine engine = new Engine(List.of(ModelServer.start("stories", SharedModels.require("stories260K.gguf"), Variant.DEFAULT,
                    plugins, limits, new AtomicLong())));
            try {
                assertEquals("stories", engine.models().getFirst().id());
                assertEquals(512, engine.models().getFirst().vocabularySize());
                int[] tokens = engine.tokenize("stories", "Once upon a time", true, false);
                assertEquals("Once upon a time", engine.detokenize("stories", tokens));

                String fromText = generate(engine, new Prompt.Text("Once upon a time"));
                assertEquals(fromText, generate(engine, new Prompt.Tokens(tokens)));
                // stories260K has no chat template: ChatML renders the conversation.
                assertTrue(generate(engine, new Prompt.Chat(List.of(new ChatMessage("user", "Hi")))).length() > 0);

                InferenceException unknown = assertThrows(InferenceException.class,
                        () -> engine.submit(GenerationRequest.greedy("nope", new Prompt.Text("Hi"), 5), null));
                assertEquals(InferenceException.Kind.UNKNOWN_MODEL, unknown.kind());
                assertTrue(unknown.getMessage().contains("stories"), unknown.getMessage());
                InferenceException badToken = assertThrows(InferenceException.class,
                        () -> engine.detokenize("stories", new int[] {100000}));
                assertEquals(InferenceException.Kind.INVALID_REQUEST, badToken.kind());
                assertArrayEquals(tokens, engine.tokenize("stories", "Once upon a time", true, false));
            } finally {
                engine.close();
            }
        }
    }

    @Test
    void aKvCacheTooSmallForOneSequenceIsRefusedAtStartWithWhatToChange() {
        try (CpuBackend backend = new CpuBackend(1, true)) {
            DirectPlugins plugins = new DirectPlugins(backend, new PagedKvAllocator(16, true),
                    new ContinuousScheduler());
            // stories260K: 1280 bytes per token slot, so 1 MiB holds 819 tokens of its 2048-token context.
            ServingLimits limits = new ServingLimits(4, 64, 16, 1L << 20, Duration.ofMinutes(1));
            IOException e = assertThrows(IOException.class, () -> ModelServer.start(null,
                    SharedModels.require("stories260K.gguf"), Variant.DEFAULT, plugins, limits, new AtomicLong()));
            assertTrue(e.getMessage().contains("kvCacheMb to at least 3") && e.getMessage().contains("maxModelLen"),
                    e.getMessage());
        }
    }

    private static String generate(Engine engine, Prompt prompt) throws Exception {
        CollectingSink sink = new CollectingSink();
        engine.submit(GenerationRequest.greedy("stories", prompt, 30), sink);
        sink.done.get(30, TimeUnit.SECONDS);
        return sink.text.toString();
    }
}
