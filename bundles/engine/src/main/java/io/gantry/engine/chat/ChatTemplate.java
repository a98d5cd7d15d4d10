package io.gantry.engine.chat;

import io.gantry.api.inference.ChatMessage;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.tokenizer.Tokenizer;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template: turns a conversation into the prompt text the model was trained on. The template is the
 * Jinja source a GGUF file keeps under {@value #METADATA_KEY} (the {@code chat_template} of the model's Hugging Face
 * tokenizer config), rendered as Hugging Face's {@code apply_chat_template} renders it: with {@code messages} (each
 * a mapping with {@code role} and {@code content}), {@code bos_token}, {@code eos_token},
 * {@code add_generation_prompt}, the functions {@code raise_exception} and {@code strftime_now}, trimmed blocks and
 * Python's string methods. A file without a template gets ChatML ({@link #CHATML}).
 *
 * <p>The template is parsed once, when this object is made; syntax errors show then. Rendering is thread-safe and
 * keeps no state between calls.
 */
public final class ChatTemplate {

    /** The GGUF metadata key of the template. */
    public static final String METADATA_KEY = "tokenizer.chat_template";

    /**
     * The fallback for files without a template: {@code <|im_start|>role\ncontent<|im_end|>\n} per message, then
     * {@code <|im_start|>assistant\n} when a generation prompt is asked for.
     */
    public static final String CHATML = "{% for message in messages %}"
            + "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Conversations that walk the common paths of a template while it is checked for syntax errors. */
    private static final List<ChatMessage> SAMPLE_CHAT = List.of(new ChatMessage("user", "user"),
            new ChatMessage("assistant", "assistant"), new ChatMessage("user", "user"));
    private static final List<ChatMessage> SAMPLE_CHAT_WITH_SYSTEM = List.of(new ChatMessage("system", "system"),
            new ChatMessage("user", "user"), new ChatMessage("assistant", "assistant"), new ChatMessage("user", "user"));

    private final String source;
    private final boolean chatMlFallback;
    private final String bosToken;
    private final String eosToken;
    private final TemplateEnvironment environment;
    private final TemplateEnvironment.Compiled compiled;

    private ChatTemplate(String source, boolean chatMlFallback, String bosToken, String eosToken, Clock clock) {
        this.source = source;
        this.chatMlFallback = chatMlFallback;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.environment = TemplateEnvironment.create(clock);
        this.compiled = environment.compile(withoutFinalNewline(source),
                List.of(bindings(SAMPLE_CHAT, true), bindings(SAMPLE_CHAT_WITH_SYSTEM, true)));
    }

    /**
     * The template of a GGUF file, or ChatML when it has none, with the BOS and EOS texts of its vocabulary.
     *
     * @param file      an open GGUF file
     * @param tokenizer the file's tokenizer, for the texts of its BOS and EOS tokens ({@code ""} where it has none)
     * @return the compiled template
     * @throws ChatTemplateException if the file's template is not valid Jinja; the message names the file
     */
    public static ChatTemplate fromGguf(GgufFile file, Tokenizer tokenizer) {
        String bos = tokenizer.bosId() >= 0 ? tokenizer.tokenText(tokenizer.bosId()) : "";
        String eos = tokenizer.eosId() >= 0 ? tokenizer.tokenText(tokenizer.eosId()) : "";
        if (!file.has(METADATA_KEY)) {
            return new ChatTemplate(CHATML, true, bos, eos, Clock.systemDefaultZone());
        }
        try {
            return of(file.getString(METADATA_KEY), bos, eos);
        } catch (ChatTemplateException e) {
            throw new ChatTemplateException(e.problem(), file.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Compiles a template.
     *
     * @param source   the Jinja source
     * @param bosToken the text of {@code bos_token}
     * @param eosToken the text of {@code eos_token}
     * @return the compiled template
     * @throws ChatTemplateException if the source is not valid Jinja
     */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        return of(source, bosToken, eosToken, Clock.systemDefaultZone());
    }

    /** Like {@link #of(String, String, String)}, with the clock {@code strftime_now} reads. */
    static ChatTemplate of(String source, String bosToken, String eosToken, Clock clock) {
        if (source == null || bosToken == null || eosToken == null) {
            throw new IllegalArgumentException("A chat template needs its source and its BOS and EOS texts");
        }
        return new ChatTemplate(source, false, bosToken, eosToken, clock);
    }

    /**
     * Renders a conversation.
     *
     * @param messages            the conversation, at least one message
     * @param addGenerationPrompt open the assistant's turn at the end, for the model to write it
     * @return the prompt text, with special tokens (BOS included where the template writes it) as text
     * @throws ChatTemplateException if the template rejects the conversation ({@link ChatTemplateException.Problem#RAISED})
     *                               or cannot render it
     * @throws IllegalArgumentException if there are no messages
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("A chat needs at least one message");
        }
        return environment.render(compiled, bindings(messages, addGenerationPrompt));
    }

    /** @return the Jinja source ({@link #CHATML} for the fallback) */
    public String source() {
        return source;
    }

    /** @return whether the model has no template of its own and ChatML is used */
    public boolean isChatMlFallback() {
        return chatMlFallback;
    }

    /** Fresh, mutable values every time: a template may change what it is given ({@code set}, list methods). */
    private Map<String, Object> bindings(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> conversation = new ArrayList<>(messages.size());
        for (ChatMessage message : messages) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("role", message.role());
            entry.put("content", message.content());
            conversation.add(entry);
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", conversation);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        return bindings;
    }

    /** Jinja's default: the source's last line break is not part of the template. */
    private static String withoutFinalNewline(String source) {
        if (source.endsWith("\r\n")) {
            return source.substring(0, source.length() - 2);
        }
        return source.endsWith("\n") || source.endsWith("\r") ? source.substring(0, source.length() - 1) : source;
    }

    @Override
    public String toString() {
        return chatMlFallback ? "ChatTemplate[ChatML fallback]" : "ChatTemplate[" + source.length() + " chars]";
    }
}
