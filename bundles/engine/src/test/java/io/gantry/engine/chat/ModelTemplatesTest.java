package io.gantry.engine.chat;

import io.gantry.api.inference.ChatMessage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static io.gantry.engine.chat.Conversations.CHAT;
import static io.gantry.engine.chat.Conversations.WITH_SYSTEM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.params.provider.Arguments.argumentSet;

/**
 * The chat templates of popular models, as their tokenizer configs (and the GGUF files converted from them) carry
 * them, each rendering a conversation to the exact prompt the template defines. The expected strings follow from
 * reading each template: which turns it writes, where it trims, what it adds for the generation prompt.
 */
class ModelTemplatesTest {

    private static final String LLAMA3_TURNS = "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>";
    private static final String LLAMA3_REPLY = "<|start_header_id|>assistant<|end_header_id|>\n\n";
    private static final String CHATML_TURNS = "<|im_start|>user\nHello<|im_end|>\n"
            + "<|im_start|>assistant\n  Hi there!  <|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n";
    private static final String CHATML_REPLY = "<|im_start|>assistant\n";

    static Stream<Arguments> templates() {
        return Stream.of(
                argumentSet("Llama 2 chat: system folded into the first [INST], turns stripped, BOS per user turn",
                        new Case("llama-2-chat.jinja", "<s>", "</s>", WITH_SYSTEM, true,
                                "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello [/INST] Hi there! </s>"
                                        + "<s>[INST] What is 2+2? [/INST]")),
                argumentSet("Llama 3 instruct: header per turn, content trimmed",
                        new Case("llama-3-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", WITH_SYSTEM, true,
                                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                                        + LLAMA3_TURNS + LLAMA3_REPLY)),
                argumentSet("Llama 3 instruct without a generation prompt",
                        new Case("llama-3-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CHAT, false,
                                "<|begin_of_text|>" + LLAMA3_TURNS)),
                argumentSet("Llama 3.1 instruct: dated system header, system message trimmed into it",
                        new Case("llama-3.1-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", WITH_SYSTEM, true,
                                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                                        + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                                        + "Be brief.<|eot_id|>" + LLAMA3_TURNS + LLAMA3_REPLY)),
                argumentSet("Llama 3.2 instruct: today's date from strftime_now, empty system message",
                        new Case("llama-3.2-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", CHAT, true,
                                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                                        + "Cutting Knowledge Date: December 2023\nToday Date: 10 Feb 2025\n\n"
                                        + "<|eot_id|>" + LLAMA3_TURNS + LLAMA3_REPLY)),
                argumentSet("Mistral instruct: [INST] turns, assistant closed by EOS, content as given",
                        new Case("mistral-instruct.jinja", "<s>", "</s>", CHAT, true,
                                "<s>[INST] Hello [/INST]  Hi there!  </s>[INST] What is 2+2? [/INST]")),
                argumentSet("Mistral Nemo instruct: the system message goes into the last user turn",
                        new Case("mistral-nemo-instruct.jinja", "<s>", "</s>", WITH_SYSTEM, true,
                                "<s>[INST]Hello[/INST]  Hi there!  </s>[INST]Be brief.\n\nWhat is 2+2?[/INST]")),
                argumentSet("Qwen2 instruct: ChatML with a default system prompt",
                        new Case("qwen2-instruct.jinja", "", "<|im_end|>", CHAT, true,
                                "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                                        + CHATML_TURNS + CHATML_REPLY)),
                argumentSet("Qwen2.5 instruct: ChatML with Qwen's default system prompt",
                        new Case("qwen2.5-instruct.jinja", "", "<|im_end|>", CHAT, true,
                                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                                        + "assistant.<|im_end|>\n" + CHATML_TURNS + CHATML_REPLY)),
                argumentSet("Qwen2.5 instruct with its own system message, no generation prompt",
                        new Case("qwen2.5-instruct.jinja", "", "<|im_end|>", WITH_SYSTEM, false,
                                "<|im_start|>system\nBe brief.<|im_end|>\n" + CHATML_TURNS)),
                argumentSet("Gemma 2 instruct: assistant is 'model', content trimmed",
                        new Case("gemma-2-it.jinja", "<bos>", "<eos>", CHAT, true,
                                "<bos><start_of_turn>user\nHello<end_of_turn>\n"
                                        + "<start_of_turn>model\nHi there!<end_of_turn>\n"
                                        + "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
                                        + "<start_of_turn>model\n")),
                argumentSet("Zephyr and TinyLlama chat (the same template): a line per tag, trimmed blocks",
                        new Case("zephyr.jinja", "<s>", "</s>", WITH_SYSTEM, true,
                                "<|system|>\nBe brief.</s>\n<|user|>\nHello</s>\n<|assistant|>\n  Hi there!  </s>\n"
                                        + "<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n")),
                argumentSet("Zephyr and TinyLlama chat without a generation prompt",
                        new Case("zephyr.jinja", "<s>", "</s>", CHAT, false,
                                "<|user|>\nHello</s>\n<|assistant|>\n  Hi there!  </s>\n"
                                        + "<|user|>\nWhat is 2+2?</s>\n")),
                argumentSet("SmolLM2 instruct: ChatML with SmolLM's default system prompt",
                        new Case("smollm2-instruct.jinja", "<|im_start|>", "<|im_end|>", CHAT, true,
                                "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
                                        + "Hugging Face<|im_end|>\n" + CHATML_TURNS + CHATML_REPLY)),
                argumentSet("DeepSeek R1 distilled into Qwen: reasoning cut from past replies, <think> opened",
                        new Case("deepseek-r1-distill-qwen.jinja", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                Conversations.prepend(new ChatMessage("system", "Be brief."), List.of(
                                        new ChatMessage("user", "Hello"),
                                        new ChatMessage("assistant", "<think>\nA greeting.\n</think>\n\nHi there!"),
                                        new ChatMessage("user", "What is 2+2?"))), true,
                                "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hello<｜Assistant｜>\n\nHi there!"
                                        + "<｜end▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n")));
    }

    @ParameterizedTest
    @MethodSource("templates")
    void rendersTheConversationAsTheModelExpectsIt(Case c) {
        ChatTemplate template = ChatTemplate.of(Conversations.template(c.file()), c.bos(), c.eos(),
                Conversations.FEB_10_2025);
        assertEquals(c.expected(), template.render(c.messages(), c.addGenerationPrompt()));
    }

    record Case(String file, String bos, String eos, List<ChatMessage> messages, boolean addGenerationPrompt,
            String expected) {
        @Override
        public String toString() {
            return file;
        }
    }
}
