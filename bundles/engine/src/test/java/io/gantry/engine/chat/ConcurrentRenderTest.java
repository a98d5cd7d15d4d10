package io.gantry.engine.chat;

import io.gantry.api.inference.ChatMessage;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** One compiled template rendered by many threads at once gives every thread what it gives one thread. */
class ConcurrentRenderTest {

    private static final int THREADS = 8;
    private static final int RENDERS_PER_THREAD = 60;

    @Test
    void concurrentRendersMatchSequentialOnes() throws Exception {
        // Llama 3.1 (set, slicing, filters, tests) and Mistral Nemo (a namespace written in a loop).
        List<ChatTemplate> templates = List.of(
                ChatTemplate.of(Conversations.template("llama-3.1-instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>"),
                ChatTemplate.of(Conversations.template("mistral-nemo-instruct.jinja"), "<s>", "</s>"));
        List<List<ChatMessage>> conversations = new ArrayList<>();
        for (int n = 0; n < 16; n++) {
            List<ChatMessage> conversation = new ArrayList<>();
            for (int turn = 0; turn <= n % 5; turn++) {
                conversation.add(new ChatMessage("user", "question " + n + "." + turn));
                conversation.add(new ChatMessage("assistant", " answer " + n + "." + turn + " "));
            }
            conversation.add(new ChatMessage("user", "last " + n));
            conversations.add(List.copyOf(conversation));
        }
        List<List<String>> expected = new ArrayList<>();
        for (ChatTemplate template : templates) {
            expected.add(conversations.stream().map(c -> template.render(c, true)).toList());
        }
        ChatTemplate llama2 = ChatTemplate.of(Conversations.template("llama-2-chat.jinja"), "<s>", "</s>");
        List<ChatMessage> rejected = List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b"));

        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    start.await();
                    int checked = 0;
                    for (int i = 0; i < RENDERS_PER_THREAD; i++) {
                        int which = (thread + i) % templates.size();
                        int conversation = (thread * 7 + i) % conversations.size();
                        assertEquals(expected.get(which).get(conversation),
                                templates.get(which).render(conversations.get(conversation), true));
                        if (i % 20 == 0) {
                            // Failed renders in between must not disturb the others.
                            assertThrows(ChatTemplateException.class, () -> llama2.render(rejected, true));
                        }
                        checked++;
                    }
                    return checked;
                }));
            }
            start.countDown();
            for (Future<Integer> result : results) {
                assertEquals(RENDERS_PER_THREAD, result.get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
