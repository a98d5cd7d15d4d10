package io.gantry.engine.synth;

import io.gantry.engine.gguf.GgufArray;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A small SentencePiece vocabulary GGUF (no tensors): special tokens, the 256 byte tokens and a few words. */
final class TinyVocabulary {

    static final String[] WORDS = {"▁the", "▁a", "▁cat", "▁sat", "▁on", "▁mat", "▁", "e", "t", "a"};

    private TinyVocabulary() {
    }

    /** @return the number of tokens written */
    static int size() {
        return 3 + 256 + WORDS.length;
    }

    static Path write(Path path) throws IOException {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        for (int b = 0; b < 256; b++) {
            tokens.add("<0x%02X>".formatted(b));
            types.add(6);
        }
        for (String word : WORDS) {
            tokens.add(word);
            types.add(1);
        }
        float[] scores = new float[tokens.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = -i;
        }
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings(tokens.toArray(String[]::new)))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(scores))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(types.stream().mapToInt(i -> i).toArray()))
                .putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2)
                .write(path);
        return path;
    }
}
