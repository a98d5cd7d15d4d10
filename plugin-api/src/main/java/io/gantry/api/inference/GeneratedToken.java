package io.gantry.api.inference;

import java.util.List;

/**
 * One generated token, as the engine streams it.
 *
 * @param id          the token id
 * @param text        the text this token completes; empty while a UTF-8 character or a possible stop
 *                    string is still incomplete (that text arrives with a later token), so that
 *                    concatenating every {@code text} gives exactly the output
 * @param logprob     the chosen token's log-probability, or {@link Float#NaN} when not requested
 * @param topLogprobs the most likely alternatives, most likely first; empty when not requested
 */
public record GeneratedToken(int id, String text, float logprob, List<TokenLogprob> topLogprobs) {

    /** Copies the alternatives. */
    public GeneratedToken {
        topLogprobs = List.copyOf(topLogprobs);
    }

    /**
     * One alternative token and its log-probability.
     *
     * @param id      the token id
     * @param text    its text
     * @param logprob its log-probability
     */
    public record TokenLogprob(int id, String text, float logprob) {
    }
}
