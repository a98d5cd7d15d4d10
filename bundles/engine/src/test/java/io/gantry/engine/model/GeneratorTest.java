package io.gantry.engine.model;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeneratorTest {

    private static final Generator.Listener IGNORE = (sequence, token) -> { };

    private static LoadedModel model;

    @BeforeAll
    static void load() throws IOException {
        model = LoadedModel.open(SharedModels.require("stories260K.gguf"));
    }

    @AfterAll
    static void unload() {
        if (model != null) {
            model.close();
        }
    }

    private static int[] prompt(String text) {
        return model.tokenizer.encode(text, true, false);
    }

    @Test
    void sequencesGeneratedTogetherMatchEachAloneAndChunkedPrefillChangesNothing() {
        List<Generator.Request> requests = List.of(
                Generator.Request.greedy(prompt("Once upon a time"), 40),
                Generator.Request.greedy(prompt("Tom had a red ball. He"), 25),
                Generator.Request.greedy(prompt("The cat"), 60));
        List<int[]> alone = new ArrayList<>();
        try (Transformer transformer = model.transformer(64, 3, 512)) {
            Generator generator = new Generator(transformer, model.tokenizer);
            for (Generator.Request request : requests) {
                alone.add(generator.generate(request, IGNORE).tokens());
            }
            List<Generator.Result> together = generator.generate(requests, IGNORE);
            for (int s = 0; s < requests.size(); s++) {
                assertArrayEquals(alone.get(s), together.get(s).tokens(), "sequence " + s);
            }
        }
        try (Transformer small = model.transformer(4, 3, 512)) {
            List<Generator.Result> chunked = new Generator(small, model.tokenizer).generate(requests, IGNORE);
            for (int s = 0; s < requests.size(); s++) {
                assertArrayEquals(alone.get(s), chunked.get(s).tokens(), "sequence " + s);
            }
        }
    }

    @Test
    void streamsEachSequencesTokensInOrder() {
        List<Generator.Request> requests = List.of(Generator.Request.greedy(prompt("Lily"), 10),
                Generator.Request.greedy(prompt("Max"), 12));
        List<List<Integer>> streamed = List.of(new ArrayList<>(), new ArrayList<>());
        List<StringBuilder> texts = List.of(new StringBuilder(), new StringBuilder());
        try (Transformer transformer = model.transformer(16, 2, 512)) {
            List<Generator.Result> results = new Generator(transformer, model.tokenizer).generate(requests,
                    (sequence, token) -> {
                        streamed.get(sequence).add(token.id());
                        texts.get(sequence).append(token.text());
                    });
            for (int s = 0; s < 2; s++) {
                assertArrayEquals(results.get(s).tokens(), streamed.get(s).stream().mapToInt(i -> i).toArray());
                assertEquals(results.get(s).text(), texts.get(s).toString());
            }
            assertEquals(10, results.get(0).tokens().length);
            assertEquals(12, results.get(1).tokens().length);
        }
    }

    @Test
    void aSeedReproducesSampledOutput() {
        SamplingParams sampled = new SamplingParams(1f, 40, 0.95f, 0.02f, 1.1f, 0f, 0f, 1234L);
        Generator.Request request = new Generator.Request(prompt("Once upon a time"), sampled, 50, true, -1);
        try (Transformer transformer = model.transformer(16, 1, 512)) {
            Generator generator = new Generator(transformer, model.tokenizer);
            int[] first = generator.generate(request, IGNORE).tokens();
            assertArrayEquals(first, generator.generate(request, IGNORE).tokens());
            Generator.Request otherSeed = new Generator.Request(prompt("Once upon a time"),
                    new SamplingParams(1f, 40, 0.95f, 0.02f, 1.1f, 0f, 0f, 4321L), 50, true, -1);
            assertFalse(Arrays.equals(first, generator.generate(otherSeed, IGNORE).tokens()));
        }
    }

    @Test
    void endsAtAStopStringAndLeavesItOut() {
        int[] prompt = prompt("Once upon a time");
        try (Transformer transformer = model.transformer(16, 1, 512)) {
            Generator generator = new Generator(transformer, model.tokenizer);
            String free = generator.generate(Generator.Request.greedy(prompt, 60), IGNORE).text();
            String stop = free.substring(free.length() / 2, free.length() / 2 + 4);
            StringBuilder streamed = new StringBuilder();
            Generator.Result stopped = generator.generate(
                    new Generator.Request(prompt, SamplingParams.GREEDY, 60, false, -1, List.of("no such text", stop)),
                    (sequence, token) -> streamed.append(token.text()));

            assertEquals(free.substring(0, free.indexOf(stop)), stopped.text());
            assertEquals(stopped.text(), streamed.toString());
            assertEquals(FinishReason.STOP, stopped.finishReason());
            assertTrue(stopped.tokens().length < 60);
        }
    }

    @Test
    void reportsLogprobsWithTheGreedyChoiceMostLikely() {
        List<GeneratedToken> tokens = new ArrayList<>();
        try (Transformer transformer = model.transformer(16, 1, 512)) {
            new Generator(transformer, model.tokenizer).generate(
                    new Generator.Request(prompt("Once"), SamplingParams.GREEDY, 5, false, 3),
                    (sequence, token) -> tokens.add(token));
        }
        assertEquals(5, tokens.size());
        for (GeneratedToken token : tokens) {
            assertEquals(3, token.topLogprobs().size());
            assertEquals(token.id(), token.topLogprobs().getFirst().id());
            assertEquals(token.logprob(), token.topLogprobs().getFirst().logprob());
            assertTrue(token.logprob() <= 0);
        }
    }

    @Test
    void rejectsWhatCannotRun() {
        try (Transformer transformer = model.transformer(16, 2, 64)) {
            Generator generator = new Generator(transformer, model.tokenizer);
            Generator.Request longOutput = Generator.Request.greedy(prompt("Once"), 100);
            assertThrows(IllegalArgumentException.class,
                    () -> generator.generate(List.of(longOutput, longOutput), IGNORE), "the KV pool is too small");
            assertThrows(IllegalArgumentException.class, () -> generator.generate(
                    List.of(longOutput, longOutput, longOutput), IGNORE), "more sequences than the transformer takes");
            assertThrows(IllegalArgumentException.class,
                    () -> generator.generate(Generator.Request.greedy(new int[2048], 1), IGNORE), "fills the context");
        }
        assertThrows(IllegalArgumentException.class, () -> Generator.Request.greedy(new int[0], 1));
    }
}
