package io.gantry.engine.tokenizer;

import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufFormatException;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Builds tokenizers from the {@code tokenizer.ggml.*} metadata of GGUF files, with llama.cpp's defaults where
 * keys are absent.
 */
public final class Tokenizers {

    private static final String PREFIX = "tokenizer.ggml.";
    /** Token texts that end a turn in common chat formats; llama.cpp treats them as end of generation. */
    private static final List<String> END_OF_TURN_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>",
            "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>");

    private Tokenizers() {
    }

    /**
     * Reads a tokenizer from a GGUF file. Supported: {@code tokenizer.ggml.model} {@code llama} (SentencePiece) and
     * {@code gpt2} (byte-level BPE, with the pre-tokenizers listed in {@link BpePreTokenizer}). The tokenizer copies
     * what it needs, so the file may be closed afterwards.
     *
     * @param file an open GGUF file
     * @return its tokenizer
     * @throws GgufFormatException if the file has no tokenizer, an unsupported one, or inconsistent tokenizer data
     */
    public static Tokenizer fromGguf(GgufFile file) {
        String model = file.getString(PREFIX + "model");
        boolean sentencePiece = switch (model) {
            case "llama" -> true;
            case "gpt2" -> false;
            default -> throw new GgufFormatException(file.name(), "tokenizer model '" + model
                    + "' is not supported (supported: llama, gpt2)");
        };
        String[] texts = file.getStringArray(PREFIX + "tokens");
        int size = texts.length;
        float[] scores = file.has(PREFIX + "scores") ? file.getFloatArray(PREFIX + "scores") : new float[size];
        TokenType[] types = tokenTypes(file, size);
        checkLength(file, "scores", scores.length, size);

        int bosId = specialId(file, "bos_token_id", sentencePiece ? 1 : -1, size);
        int eosId = specialId(file, "eos_token_id", sentencePiece ? 2 : -1, size);
        int unknownId = specialId(file, "unknown_token_id", sentencePiece ? 0 : -1, size);
        int padId = specialId(file, "padding_token_id", -1, size);
        int endOfTurnId = specialId(file, "eot_id", -1, size);
        Set<Integer> endOfGeneration = new HashSet<>();
        for (int id : new int[] {eosId, endOfTurnId}) {
            if (id >= 0) {
                endOfGeneration.add(id);
            }
        }
        for (int id = 0; id < size; id++) {
            if (END_OF_TURN_TEXTS.contains(texts[id])) {
                endOfGeneration.add(id);
                types[id] = TokenType.CONTROL; // llama.cpp's fix for converters that left these as plain text
            }
        }
        Vocabulary vocabulary = new Vocabulary(texts, scores, types);

        FragmentEncoder encoder;
        boolean addBosByDefault;
        if (sentencePiece) {
            encoder = new SentencePieceEncoder(vocabulary, file.getBoolean(PREFIX + "add_space_prefix", true), unknownId);
            addBosByDefault = true;
        } else {
            String preName = file.getString(PREFIX + "pre", "gpt-2");
            BpePreTokenizer preTokenizer = BpePreTokenizer.named(preName).orElseThrow(() -> new GgufFormatException(
                    file.name(), "pre-tokenizer '" + preName + "' is not supported (supported: "
                            + String.join(", ", BpePreTokenizer.supportedNames()) + ")"));
            boolean llama3 = preTokenizer == BpePreTokenizer.LLAMA3;
            encoder = new ByteLevelBpeEncoder(vocabulary, file.getStringArray(PREFIX + "merges"), preTokenizer, llama3);
            addBosByDefault = llama3;
        }
        return new VocabularyTokenizer(vocabulary, encoder, new SpecialTokens(bosId, eosId, padId,
                file.getBoolean(PREFIX + "add_bos_token", addBosByDefault),
                file.getBoolean(PREFIX + "add_eos_token", false), endOfGeneration));
    }

    private static TokenType[] tokenTypes(GgufFile file, int size) {
        TokenType[] types = new TokenType[size];
        if (!file.has(PREFIX + "token_type")) {
            Arrays.fill(types, TokenType.NORMAL);
            return types;
        }
        int[] ids = file.getIntArray(PREFIX + "token_type");
        checkLength(file, "token_type", ids.length, size);
        for (int i = 0; i < size; i++) {
            types[i] = TokenType.fromGgufId(ids[i]);
        }
        return types;
    }

    private static void checkLength(GgufFile file, String key, int length, int size) {
        if (length != size) {
            throw new GgufFormatException(file.name(), PREFIX + key + " has " + length + " entries but there are "
                    + size + " tokens");
        }
    }

    /** Reads a special token id; like llama.cpp, an id outside the vocabulary (often -1 as UINT32) means "keep the default". */
    private static int specialId(GgufFile file, String key, int fallback, int size) {
        long id = file.has(PREFIX + key) ? file.getLong(PREFIX + key) : fallback;
        if (id >= 0 && id < size) {
            return (int) id;
        }
        return fallback < size ? fallback : -1;
    }
}
