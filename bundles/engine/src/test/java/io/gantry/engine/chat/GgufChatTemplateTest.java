package io.gantry.engine.chat;

import io.gantry.engine.gguf.GgufArray;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufWriter;
import io.gantry.engine.gguf.SharedModels;
import io.gantry.engine.tokenizer.Tokenizer;
import io.gantry.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static io.gantry.engine.chat.Conversations.CHAT;
import static io.gantry.engine.chat.Conversations.WITH_SYSTEM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Templates read from GGUF files, with the BOS and EOS texts of their vocabularies, and the ChatML fallback. */
class GgufChatTemplateTest {

    @TempDir
    Path folder;

    private static ChatTemplate fromGguf(Path path) throws IOException {
        try (GgufFile file = GgufFile.open(path)) {
            Tokenizer tokenizer = Tokenizers.fromGguf(file);
            return ChatTemplate.fromGguf(file, tokenizer);
        }
    }

    /** A SentencePiece vocabulary whose BOS and EOS are {@code <s>} and {@code </s>}, and optionally a template. */
    private Path vocabulary(String name, String template) throws IOException {
        GgufWriter writer = new GgufWriter()
                .putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("<unk>", "<s>", "</s>", "a"))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(0, 0, 0, -1))
                .putArray("tokenizer.ggml.token_type", GgufArray.ofInt32(2, 3, 3, 1));
        if (template != null) {
            writer.putString(ChatTemplate.METADATA_KEY, template);
        }
        Path path = folder.resolve(name);
        writer.write(path);
        return path;
    }

    @Test
    void phi3RendersTheTemplateItsFileCarries() throws IOException {
        ChatTemplate phi3 = fromGguf(SharedModels.require("vocab/ggml-vocab-phi-3.gguf"));
        assertFalse(phi3.isChatMlFallback());
        // The template writes BOS, opens the assistant's turn after every user turn, and has no system role.
        assertEquals("<s><|user|>\nHello<|end|>\n<|assistant|>\n  Hi there!  <|end|>\n"
                + "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n", phi3.render(WITH_SYSTEM, true));
    }

    @Test
    void aFileWithoutATemplateGetsChatMl() throws IOException {
        ChatTemplate chatMl = fromGguf(vocabulary("no-template.gguf", null));
        assertTrue(chatMl.isChatMlFallback());
        assertEquals(ChatTemplate.CHATML, chatMl.source());
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\n  Hi there!  <|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n", chatMl.render(WITH_SYSTEM, true));
        assertEquals("<|im_start|>user\nHello<|im_end|>\n", chatMl.render(CHAT.subList(0, 1), false));
    }

    @Test
    void bosAndEosComeFromTheVocabulary() throws IOException {
        ChatTemplate template = fromGguf(vocabulary("tokens.gguf", "{{ bos_token }}|{{ eos_token }}"));
        assertEquals("<s>|</s>", template.render(CHAT, true));
    }

    @Test
    void aBrokenTemplateIsReportedWithTheFileName() throws IOException {
        Path path = vocabulary("broken.gguf", "{% if messages %}{{ messages[0].content }}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> fromGguf(path));
        assertEquals(ChatTemplateException.Problem.SYNTAX, e.problem());
        assertTrue(e.getMessage().startsWith(path + ": The chat template is not valid Jinja"), e.getMessage());
    }
}
