package io.gantry.api.inference;

import java.util.List;

/** What a generation starts from: plain text, token ids, or a chat rendered by the model's template. */
public sealed interface Prompt {

    /**
     * Text, tokenized with the model's BOS rule.
     *
     * @param text the prompt text
     */
    record Text(String text) implements Prompt {
        /** Checks that the text is present. */
        public Text {
            if (text == null) {
                throw new IllegalArgumentException("The prompt text is missing");
            }
        }
    }

    /**
     * Token ids, used as they are.
     *
     * @param tokens the prompt's token ids
     */
    record Tokens(int[] tokens) implements Prompt {
        /** Copies the ids. */
        public Tokens {
            tokens = tokens.clone();
        }

        @Override
        public int[] tokens() {
            return tokens.clone();
        }
    }

    /**
     * A conversation, rendered with the model's chat template (ChatML when the model has none), with the
     * assistant's turn opened for generation.
     *
     * @param messages the conversation so far
     */
    record Chat(List<ChatMessage> messages) implements Prompt {
        /** Copies the messages and checks there is at least one. */
        public Chat {
            messages = List.copyOf(messages);
            if (messages.isEmpty()) {
                throw new IllegalArgumentException("A chat prompt needs at least one message");
            }
        }
    }
}
