package io.gantry.engine.tokenizer;

import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama.cpp's test-tokenizer-0 vectors: each vocabulary must encode every test string exactly as llama.cpp does
 * (no BOS/EOS, special tokens not parsed), decode it back, and stream it back.
 */
class ReferenceTokenizationTest {

    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    private record Case(String text, int[] expected) {
    }

    private static List<Case> cases(String vocab) throws IOException {
        Path gguf = SharedModels.require(vocab);
        String[] texts = Files.readString(Path.of(gguf + ".inp"), StandardCharsets.UTF_8).split(SEPARATOR, -1);
        List<String> lines = Files.readAllLines(Path.of(gguf + ".out"), StandardCharsets.UTF_8);
        // The .inp file ends with a separator, so the split leaves one empty string after the last case.
        assertEquals(lines.size() + 1, texts.length, "test strings and expected lines pair up");
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            int[] expected = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(texts[i], expected));
        }
        return cases;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-phi-3.gguf"})
    void encodesLikeLlamaCpp(String vocab) throws IOException {
        List<Case> cases = cases(vocab);
        Tokenizer tokenizer = SharedTokenizers.load(vocab);
        List<String> mismatches = new ArrayList<>();
        for (Case testCase : cases) {
            int[] actual = tokenizer.encode(testCase.text(), false, false);
            if (!Arrays.equals(testCase.expected(), actual)) {
                mismatches.add("'" + testCase.text() + "': expected " + Arrays.toString(testCase.expected()) + ", got "
                        + Arrays.toString(actual));
            }
        }
        assertTrue(mismatches.isEmpty(), () -> (cases.size() - mismatches.size()) + " of " + cases.size()
                + " strings match; mismatches:\n" + String.join("\n", mismatches));
    }

    @ParameterizedTest
    @ValueSource(strings = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-phi-3.gguf"})
    void decodeReversesEncode(String vocab) throws IOException {
        Tokenizer tokenizer = SharedTokenizers.load(vocab);
        for (Case testCase : cases(vocab)) {
            assertEquals(testCase.text(), tokenizer.decode(tokenizer.encode(testCase.text(), false, false)));
        }
    }

    /** Streaming the expected ids gives the same text as decoding them at once, in whole characters only. */
    @ParameterizedTest
    @ValueSource(strings = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-phi-3.gguf"})
    void streamingGivesWholeCharacters(String vocab) throws IOException {
        Tokenizer tokenizer = SharedTokenizers.load(vocab);
        for (Case testCase : cases(vocab)) {
            StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
            StringBuilder streamed = new StringBuilder();
            for (int id : testCase.expected()) {
                String chunk = decoder.next(id);
                assertTrue(chunk.indexOf('\uFFFD') < 0, () -> "chunk '" + chunk + "' of '" + testCase.text() + "'");
                assertTrue(chunk.isEmpty() || !Character.isHighSurrogate(chunk.charAt(chunk.length() - 1)));
                streamed.append(chunk);
            }
            assertEquals("", decoder.flush());
            String whole = Arrays.stream(testCase.expected())
                    .mapToObj(id -> new String(tokenizer.tokenBytes(id, false), StandardCharsets.ISO_8859_1))
                    .collect(Collectors.joining());
            assertEquals(new String(whole.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8), streamed.toString());
        }
    }
}
