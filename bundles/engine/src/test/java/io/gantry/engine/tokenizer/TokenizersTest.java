package io.gantry.engine.tokenizer;

import io.gantry.engine.gguf.GgufArray;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;
import io.gantry.engine.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading tokenizer metadata, on small vocabularies written for each case. */
class TokenizersTest {

    private static final int NORMAL = 1;
    private static final int CONTROL = 3;

    @TempDir
    Path folder;

    private Tokenizer tokenizer(String fileName, Consumer<GgufWriter> metadata) throws IOException {
        Path path = folder.resolve(fileName);
        GgufWriter writer = new GgufWriter();
        metadata.accept(writer);
        writer.write(path);
        try (GgufFile file = GgufFile.open(path)) {
            return Tokenizers.fromGguf(file);
        }
    }

    private static Consumer<GgufWriter> byteLevel(String pre) {
        return writer -> writer.putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", pre)
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("<|begin_of_text|>", "a", "b", "c", "ab", "abc", "Ġ"))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(CONTROL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL, NORMAL))
                .putArray("tokenizer.ggml.merges", GgufArray.ofStrings("a b"))
                .putUInt32("tokenizer.ggml.bos_token_id", 0);
    }

    @Test
    void llama3TakesWholeWordTokensWithoutMergingAndAddsBos() throws IOException {
        Tokenizer llama3 = tokenizer("llama3.gguf", byteLevel("llama-bpe"));
        assertTrue(llama3.addsBos());
        assertArrayEquals(new int[] {0, 5, 6, 4}, llama3.encode("abc ab", true, false));
        assertEquals("abc ab", llama3.decode(llama3.encode("abc ab", true, false)));

        Tokenizer gpt2 = tokenizer("gpt2.gguf", byteLevel("gpt-2"));
        assertFalse(gpt2.addsBos());
        assertArrayEquals(new int[] {4, 3, 6, 4}, gpt2.encode("abc ab", true, false));
    }

    private static Consumer<GgufWriter> sentencePiece(String... extraTokens) {
        String[] tokens = new String[3 + extraTokens.length];
        tokens[0] = "<unk>";
        tokens[1] = "<s>";
        tokens[2] = "</s>";
        System.arraycopy(extraTokens, 0, tokens, 3, extraTokens.length);
        int[] types = new int[tokens.length];
        float[] scores = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            types[i] = i == 0 ? 2 : i < 3 ? CONTROL : NORMAL;
            scores[i] = -i;
        }
        return writer -> writer.putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings(tokens))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(scores))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(types))
                .putUInt32("tokenizer.ggml.padding_token_id", 0xFFFF_FFFFL);
    }

    @Test
    void sentencePieceHonoursAddSpacePrefixAndFallsBackToUnknown() throws IOException {
        Tokenizer prefixed = tokenizer("prefixed.gguf", sentencePiece("▁", "a", "▁a", "<|im_end|>"));
        assertArrayEquals(new int[] {1, 5}, prefixed.encode("a", true, false));
        assertArrayEquals(new int[] {5, 0, 0}, prefixed.encode("aé", false, false), "é has no byte tokens: two <unk>");
        assertEquals(TokenType.CONTROL, prefixed.tokenType(6), "end-of-turn text is a control token");
        assertTrue(prefixed.isEndOfGeneration(6));
        assertTrue(prefixed.isEndOfGeneration(2));
        assertEquals(-1, prefixed.padId(), "a padding id of 2^32-1 means none");

        Tokenizer unprefixed = tokenizer("unprefixed.gguf", sentencePiece("▁", "a", "▁a").andThen(
                writer -> writer.putBool("tokenizer.ggml.add_space_prefix", false).putBool("tokenizer.ggml.add_bos_token", false)));
        assertArrayEquals(new int[] {4}, unprefixed.encode("a", true, false));
        assertEquals("a", unprefixed.decode(new int[] {4}));
    }

    @Test
    void unusableTokenizerMetadataIsAFormatErrorNamingTheFile() {
        assertRejected("bert.gguf", writer -> writer.putString("tokenizer.ggml.model", "bert"),
                "tokenizer model 'bert' is not supported");
        assertRejected("tekken.gguf", byteLevel("tekken"), "pre-tokenizer 'tekken' is not supported");
        assertRejected("no-tokens.gguf", writer -> writer.putString("tokenizer.ggml.model", "llama"),
                "has no metadata key 'tokenizer.ggml.tokens'");
        assertRejected("no-merges.gguf", writer -> writer.putString("tokenizer.ggml.model", "gpt2")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("a")), "'tokenizer.ggml.merges'");
        assertRejected("short-scores.gguf", writer -> writer.putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("a", "b"))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(0f)), "scores has 1 entries but there are 2 tokens");
    }

    private void assertRejected(String fileName, Consumer<GgufWriter> metadata, String problem) {
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> tokenizer(fileName, metadata));
        assertTrue(e.getMessage().contains(fileName) && e.getMessage().contains(problem), e.getMessage());
    }
}
