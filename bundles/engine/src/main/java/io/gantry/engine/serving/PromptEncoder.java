package io.gantry.engine.serving;

import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.Prompt;
import io.gantry.engine.chat.ChatTemplate;
import io.gantry.engine.chat.ChatTemplateException;
import io.gantry.engine.tokenizer.Tokenizer;

/**
 * Turns a request's {@link Prompt} into token ids for one model: text with the model's BOS rule, token ids as
 * they are, a chat through the model's template (ChatML where the file has none). Thread-safe.
 *
 * <p>Special-token text in a text prompt or a rendered chat becomes those tokens, as llama.cpp's server does:
 * that is how a chat template's markers reach the model, and how clients send their own templates.
 */
final class PromptEncoder {

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final String bosText;

    /**
     * @throws ChatTemplateException if the model's chat template is not valid Jinja
     */
    PromptEncoder(ServingModel model) {
        this.tokenizer = model.tokenizer();
        this.template = ChatTemplate.fromGguf(model.file(), tokenizer);
        this.bosText = tokenizer.bosId() >= 0 ? tokenizer.tokenText(tokenizer.bosId()) : null;
    }

    int[] tokens(Prompt prompt) throws InferenceException {
        return switch (prompt) {
            case Prompt.Text text -> tokenizer.encode(text.text(), true, true);
            case Prompt.Tokens tokens -> tokens.tokens();
            case Prompt.Chat chat -> {
                String rendered;
                try {
                    rendered = template.render(chat.messages(), true);
                } catch (ChatTemplateException e) {
                    throw new InferenceException(InferenceException.Kind.INVALID_REQUEST,
                            "The chat cannot be rendered with the model's template: " + e.getMessage());
                }
                // Templates that write the BOS text themselves must not get a second BOS from the tokenizer.
                yield tokenizer.encode(rendered, bosText == null || !rendered.startsWith(bosText), true);
            }
        };
    }
}
