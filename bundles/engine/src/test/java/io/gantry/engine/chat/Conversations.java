package io.gantry.engine.chat;

import io.gantry.api.inference.ChatMessage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/** Conversations, a fixed clock and the model templates under {@code src/test/resources/chat-templates}. */
final class Conversations {

    /** Two user turns around an assistant turn with spaces around it (templates that trim show it). */
    static final List<ChatMessage> CHAT = List.of(
            new ChatMessage("user", "Hello"),
            new ChatMessage("assistant", "  Hi there!  "),
            new ChatMessage("user", "What is 2+2?"));

    static final List<ChatMessage> WITH_SYSTEM = prepend(new ChatMessage("system", "Be brief."), CHAT);

    /** 2025-02-10 09:30 UTC, for {@code strftime_now}. */
    static final Clock FEB_10_2025 = Clock.fixed(LocalDateTime.of(2025, 2, 10, 9, 30).toInstant(ZoneOffset.UTC),
            ZoneOffset.UTC);

    private Conversations() {
    }

    static List<ChatMessage> prepend(ChatMessage first, List<ChatMessage> rest) {
        List<ChatMessage> all = new ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return List.copyOf(all);
    }

    /** @param name a file under {@code chat-templates/}, e.g. {@code llama-3-instruct.jinja} */
    static String template(String name) {
        try (InputStream in = Conversations.class.getResourceAsStream("/chat-templates/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no test template " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
