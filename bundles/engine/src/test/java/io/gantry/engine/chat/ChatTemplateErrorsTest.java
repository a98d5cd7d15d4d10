package io.gantry.engine.chat;

import io.gantry.api.inference.ChatMessage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.gantry.engine.chat.Conversations.CHAT;
import static io.gantry.engine.chat.Conversations.WITH_SYSTEM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Templates that cannot be compiled or rendered, and conversations a template refuses: each names its problem. */
class ChatTemplateErrorsTest {

    private static ChatTemplateException compileError(String source) {
        return assertThrows(ChatTemplateException.class, () -> ChatTemplate.of(source, "<s>", "</s>"));
    }

    private static ChatTemplateException renderError(ChatTemplate template, List<ChatMessage> messages) {
        return assertThrows(ChatTemplateException.class, () -> template.render(messages, true));
    }

    private static void assertMentions(ChatTemplateException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + part + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void anUnclosedBlockIsASyntaxErrorAtCompileTime() {
        ChatTemplateException e = compileError("{% for message in messages %}\n{{ message.content }}\n");
        assertEquals(ChatTemplateException.Problem.SYNTAX, e.problem());
        assertMentions(e, "not valid Jinja", "line 1", "Missing end tag", "endfor");
    }

    @Test
    void aMalformedExpressionIsASyntaxErrorWithItsLine() {
        ChatTemplateException e = compileError("{{ bos_token }}\n{% for message in messages %}\n"
                + "{{ message.content + }}\n{% endfor %}");
        assertEquals(ChatTemplateException.Problem.SYNTAX, e.problem());
        assertMentions(e, "line 3", "message.content +");
    }

    @Test
    void errorLinesCountTheLinesWhoseNewlineTrimBlocksRemoves() {
        String llama31 = Conversations.template("llama-3.1-instruct.jinja");
        String broken = llama31.replace("message['content'] | trim + '<|eot_id|>' }}",
                "message['content'] | trim + '<|eot_id|>' ( }}");
        assertMentions(compileError(broken), "line 68:");
    }

    @Test
    void anUnknownTagIsASyntaxError() {
        ChatTemplateException e = compileError("{% generation %}{{ messages[0].content }}{% endgeneration %}");
        assertEquals(ChatTemplateException.Problem.SYNTAX, e.problem());
        assertMentions(e, "Unknown tag: generation");
    }

    @Test
    void rolesThatDoNotAlternateAreRejectedWithTheTemplatesMessage() {
        ChatTemplate llama2 = ChatTemplate.of(Conversations.template("llama-2-chat.jinja"), "<s>", "</s>");
        ChatTemplateException e = renderError(llama2,
                List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b")));
        assertEquals(ChatTemplateException.Problem.RAISED, e.problem());
        assertEquals("The chat template rejected the conversation: "
                + "Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
        assertEquals("<s>[INST] a [/INST]", llama2.render(List.of(new ChatMessage("user", "a")), true),
                "a rejected conversation leaves the template usable");
    }

    @Test
    void aSystemMessageIsRejectedByTemplatesWithoutASystemRole() {
        ChatTemplate gemma = ChatTemplate.of(Conversations.template("gemma-2-it.jinja"), "<bos>", "<eos>");
        ChatTemplateException e = renderError(gemma, WITH_SYSTEM);
        assertEquals(ChatTemplateException.Problem.RAISED, e.problem());
        assertMentions(e, "System role not supported");
    }

    @Test
    void anUnknownFilterIsReportedInsteadOfRenderingNothing() {
        ChatTemplate template = ChatTemplate.of("{% if messages | length > 5 %}{{ messages | frobnicate }}{% endif %}",
                "<s>", "</s>");
        ChatTemplateException e = renderError(template, List.of(CHAT.get(0), CHAT.get(1), CHAT.get(0), CHAT.get(1),
                CHAT.get(0), CHAT.get(1)));
        assertEquals(ChatTemplateException.Problem.UNSUPPORTED, e.problem());
        assertMentions(e, "cannot be rendered", "line 1", "unknown filter 'frobnicate'");
    }

    @Test
    void anUnknownFunctionOrMethodIsUnsupported() {
        ChatTemplate function = ChatTemplate.of("{% if messages | length > 3 %}{{ render_tools(messages) }}{% endif %}",
                "<s>", "</s>");
        assertMentions(renderError(function, WITH_SYSTEM), "render_tools");
        ChatTemplate method = ChatTemplate.of("{% if messages | length > 3 %}{{ messages[0].content.casefold() }}"
                + "{% endif %}", "<s>", "</s>");
        ChatTemplateException e = renderError(method, WITH_SYSTEM);
        assertEquals(ChatTemplateException.Problem.UNSUPPORTED, e.problem());
        assertMentions(e, "casefold");
    }

    @Test
    void aChatNeedsMessages() {
        ChatTemplate template = ChatTemplate.of(ChatTemplate.CHATML, "", "");
        assertThrows(IllegalArgumentException.class, () -> template.render(List.of(), true));
    }
}
