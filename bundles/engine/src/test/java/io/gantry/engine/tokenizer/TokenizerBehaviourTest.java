package io.gantry.engine.tokenizer;

import io.gantry.engine.gguf.SharedModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import static io.gantry.engine.tokenizer.SharedTokenizers.idOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerBehaviourTest {

    private static final String LLAMA_SPM = "vocab/ggml-vocab-llama-spm.gguf";
    private static final String GPT2 = "vocab/ggml-vocab-gpt-2.gguf";
    private static final String PHI3 = "vocab/ggml-vocab-phi-3.gguf";

    @Test
    void sentencePieceAddsBosByDefaultAndDecodeHidesIt() {
        Tokenizer tokenizer = SharedTokenizers.load(LLAMA_SPM);
        assertTrue(tokenizer.addsBos());
        assertFalse(tokenizer.addsEos());
        int[] ids = tokenizer.encode("Hello world", true, false);
        assertArrayEquals(new int[] {1, 15043, 3186}, ids);
        assertEquals("Hello world", tokenizer.decode(ids));
        assertEquals("<s> Hello world", tokenizer.decode(ids, true));
        assertEquals(TokenType.CONTROL, tokenizer.tokenType(1));
        assertEquals("▁Hello", tokenizer.tokenText(15043));
        assertTrue(tokenizer.isEndOfGeneration(2));
        assertFalse(tokenizer.isEndOfGeneration(15043));
    }

    @Test
    void byteLevelBpeAddsNoBosWithoutTheKey() {
        Tokenizer tokenizer = SharedTokenizers.load(GPT2);
        assertFalse(tokenizer.addsBos());
        assertEquals(50256, tokenizer.bosId());
        assertEquals(50256, tokenizer.eosId());
        assertArrayEquals(tokenizer.encode("Hello world", false, false), tokenizer.encode("Hello world", true, false));
        assertTrue(tokenizer.isEndOfGeneration(50256));
    }

    @Test
    void specialTokensAreMatchedOnlyWhenParsed() {
        Tokenizer tokenizer = SharedTokenizers.load(PHI3);
        String prompt = "<|user|>\nHi<|end|>\n<|assistant|>\n";
        int user = idOf(tokenizer, "<|user|>");
        int end = idOf(tokenizer, "<|end|>");
        int assistant = idOf(tokenizer, "<|assistant|>");

        int[] parsed = tokenizer.encode(prompt, true, true);
        assertEquals(1, parsed[0]);
        assertEquals(user, parsed[1]);
        assertTrue(IntStream.of(parsed).anyMatch(id -> id == end));
        assertTrue(IntStream.of(parsed).anyMatch(id -> id == assistant));
        // As in llama.cpp, text after a special token gets the dummy-prefix space too.
        assertEquals("\nHi \n \n", tokenizer.decode(parsed));
        assertEquals("<s><|user|> \nHi<|end|> \n<|assistant|> \n", tokenizer.decode(parsed, true));
        assertTrue(tokenizer.isEndOfGeneration(end));
        assertEquals(32000, tokenizer.padId());

        int[] plain = tokenizer.encode(prompt, false, false);
        assertTrue(IntStream.of(plain).noneMatch(tokenizer::isSpecial), Arrays.toString(plain));
        assertEquals(prompt, tokenizer.decode(plain));
    }

    @Test
    void streamingHoldsBackByteFallbackPiecesOfACharacter() {
        Tokenizer tokenizer = SharedTokenizers.load(LLAMA_SPM);
        int[] llama = tokenizer.encode("🦙", false, false); // ▁ then four byte tokens
        assertEquals(5, llama.length);
        StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
        assertEquals(" ", decoder.next(llama[0]));
        assertEquals("", decoder.next(llama[1]));
        assertEquals("", decoder.next(llama[2]));
        assertEquals("", decoder.next(llama[3]));
        assertEquals("🦙", decoder.next(llama[4]));
        assertEquals("", decoder.flush());
    }

    @Test
    void streamingSplitsByteLevelTokensOnlyBetweenCharacters() {
        Tokenizer tokenizer = SharedTokenizers.load(GPT2);
        String text = "Hello, y'all! 😶‍🌫️ 我想在apple工作1314151天～ 🦙";
        int[] ids = tokenizer.encode(text, false, false);
        StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
        List<String> chunks = new ArrayList<>();
        int held = 0;
        for (int id : ids) {
            String chunk = decoder.next(id);
            held += chunk.isEmpty() ? 1 : 0;
            assertTrue(chunk.codePoints().noneMatch(c -> c == 0xFFFD || Character.isSurrogate((char) c)), chunk);
            chunks.add(chunk);
        }
        chunks.add(decoder.flush());
        assertEquals(text, String.join("", chunks));
        assertTrue(held > 0, "some tokens end inside a character, so some chunks are empty");
    }

    @Test
    void streamingEmitsUndecodableBytesAsReplacementCharacters() {
        Tokenizer tokenizer = SharedTokenizers.load(LLAMA_SPM);
        int firstOfThree = idOf(tokenizer, "<0xE4>");
        int letter = idOf(tokenizer, "a");
        StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
        assertEquals("", decoder.next(firstOfThree));
        assertEquals("\uFFFDa", decoder.next(letter), "a byte that cannot complete the character ends it");
        assertEquals("", decoder.next(firstOfThree));
        assertEquals("\uFFFD", decoder.flush(), "flush gives up on the unfinished character");
        assertEquals("", decoder.flush());
        assertEquals("", decoder.next(1), "control tokens are hidden");
        assertEquals("<s>", new StreamingDecoder(tokenizer, true).next(1));
    }

    /** Java strings can hold unpaired surrogates, which have no UTF-8; they encode as '?' like any JDK encoder. */
    @ParameterizedTest
    @ValueSource(strings = {LLAMA_SPM, GPT2})
    void unpairedSurrogatesEncodeAsQuestionMarks(String vocab) {
        Tokenizer tokenizer = SharedTokenizers.load(vocab);
        assertEquals("a?b?", tokenizer.decode(tokenizer.encode("a\uD83Db\uDE00", false, false)));
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 32000, Integer.MAX_VALUE})
    void idsOutsideTheVocabularyAreRejected(int id) {
        Tokenizer tokenizer = SharedTokenizers.load(LLAMA_SPM);
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {id}));
        assertThrows(IllegalArgumentException.class, () -> new StreamingDecoder(tokenizer, false).next(id));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.tokenText(id));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.isEndOfGeneration(id));
    }

    /** The reference story, generated from BOS, decodes to its reference text. */
    @Test
    void storiesReferenceOutputDecodesToItsText() throws IOException {
        String reference = Files.readString(SharedModels.require("stories260K.expected.txt"));
        Matcher ids = Pattern.compile("TOKEN_IDS \\(256 generated\\): \\[([0-9, ]+)]").matcher(reference);
        assertTrue(ids.find());
        int[] generated = Arrays.stream(ids.group(1).split(", ")).mapToInt(Integer::parseInt).toArray();
        String text = reference.substring(reference.indexOf("TEXT:\n") + "TEXT:\n".length()).stripTrailing();

        Tokenizer tokenizer = SharedTokenizers.load("stories260K.gguf");
        assertEquals(512, tokenizer.vocabularySize());
        assertTrue(tokenizer.addsBos(), "no add_bos key: SentencePiece adds BOS");
        int[] withBos = IntStream.concat(IntStream.of(tokenizer.bosId()), IntStream.of(generated)).toArray();
        assertEquals(text, tokenizer.decode(withBos).stripTrailing());

        StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
        StringBuilder streamed = new StringBuilder();
        for (int id : withBos) {
            streamed.append(decoder.next(id));
        }
        assertEquals(" " + text, streamed.append(decoder.flush()).toString().stripTrailing(),
                "streaming keeps the first piece's space");
    }

    /** Long prompts encode in about linear time; a quadratic step would blow the timeout by far. */
    @ParameterizedTest
    @ValueSource(strings = {LLAMA_SPM, GPT2})
    @Timeout(30)
    void longPromptsRoundTrip(String vocab) {
        Tokenizer tokenizer = SharedTokenizers.load(vocab);
        String text = ("Hello, y'all! How are you 😁 ?我想在apple工作1314151天～ \n\n\t  " + "x".repeat(200)).repeat(500)
                + " ".repeat(20_000) + "1".repeat(20_000);
        int[] ids = tokenizer.encode(text, false, true);
        assertEquals(text, tokenizer.decode(ids));
    }
}
