package io.gantry.engine.model;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.sampling.Logprobs;
import io.gantry.engine.sampling.Sampler;
import io.gantry.engine.tokenizer.StreamingDecoder;
import io.gantry.engine.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence's tokens and what turns logits into its output: the sampler, the streaming detokenizer and the
 * stop conditions (end-of-generation tokens unless ignored, stop token ids, stop strings, {@code max_tokens},
 * the sequence's capacity). Shared by the {@link Generator} and the serving step loop, so both stream the same
 * text for the same tokens.
 *
 * <p>Stop strings are matched on the text: a stop string ends generation and is not part of the output, and
 * text that might be the start of a stop string is held back until the next tokens tell; so a streamed
 * {@link GeneratedToken#text()} may be empty and its text arrive with a later token. When generation ends,
 * what is held back is released ({@link #finish()}).
 *
 * <p>Not thread-safe: one step loop drives it.
 */
public final class SequenceOutput {

    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final StreamingDecoder decoder;
    private final int[] tokens;
    private final int promptLength;
    private final int maxTokens;
    private final boolean ignoreEos;
    private final int[] stopTokenIds;
    private final List<String> stopStrings;
    private final int topLogprobs;
    private final int vocabularySize;
    /** Decoded text not yet streamed: it ends with what may be the start of a stop string. */
    private final StringBuilder heldBack = new StringBuilder();
    private final StringBuilder text = new StringBuilder();
    private int length;
    private FinishReason finish;
    private int stopToken = -1;

    /**
     * @param tokenizer    the model's tokenizer
     * @param prompt       the prompt's token ids, at least one
     * @param capacity     the most tokens the sequence may hold, prompt included (the context length or less)
     * @param sampling     how to choose tokens
     * @param maxTokens    the most tokens to generate
     * @param ignoreEos    whether end-of-generation tokens are generated like any other
     * @param stopTokenIds token ids that end generation (they are not part of the output)
     * @param stopStrings  strings that end generation (not part of the output); none empty
     * @param topLogprobs  alternatives to report per token: -1 for no log-probabilities, 0 for the chosen token's
     */
    public SequenceOutput(Tokenizer tokenizer, int[] prompt, int capacity, SamplingParams sampling, int maxTokens,
            boolean ignoreEos, int[] stopTokenIds, List<String> stopStrings, int topLogprobs) {
        if (prompt.length == 0 || prompt.length >= capacity) {
            throw new IllegalArgumentException("A prompt of " + prompt.length + " tokens leaves no room to generate "
                    + "in a sequence of " + capacity);
        }
        this.tokenizer = tokenizer;
        this.vocabularySize = tokenizer.vocabularySize();
        this.sampler = new Sampler(sampling, vocabularySize, prompt);
        this.decoder = new StreamingDecoder(tokenizer, false);
        this.tokens = Arrays.copyOf(prompt, capacity);
        this.promptLength = prompt.length;
        this.length = prompt.length;
        this.maxTokens = maxTokens;
        this.ignoreEos = ignoreEos;
        this.stopTokenIds = stopTokenIds.clone();
        this.stopStrings = List.copyOf(stopStrings);
        this.topLogprobs = topLogprobs;
    }

    /**
     * Samples the next token from the logits at {@code offset} and decides whether generation ends.
     *
     * @return the token to stream, or {@code null} when the sampled token ended generation without being part
     *         of the output (an end-of-generation or stop token); check {@link #finishReason()} after each call
     */
    public GeneratedToken next(float[] logits, int offset) {
        int token = sampler.sample(logits, offset);
        if (isStopToken(token)) {
            finish = FinishReason.STOP;
            stopToken = token;
            return null;
        }
        sampler.accept(token);
        tokens[length++] = token;
        heldBack.append(decoder.next(token));
        String piece = releasable();
        if (finish == null && (length - promptLength == maxTokens || length == tokens.length)) {
            finish = FinishReason.LENGTH;
        }
        if (finish == FinishReason.LENGTH) {
            piece += finish();
        }
        text.append(piece);
        return topLogprobs < 0 ? new GeneratedToken(token, piece, Float.NaN, List.of())
                : withLogprobs(token, piece, Logprobs.of(logits, offset, vocabularySize, token, topLogprobs));
    }

    /**
     * Ends generation from outside (cancellation, timeout) or after {@link #next} returned {@code null}: releases
     * the text held back, with U+FFFD for the bytes of an unfinished UTF-8 character.
     *
     * @return the released text, possibly empty; it is part of {@link #text()} from now on
     */
    public String finish() {
        heldBack.append(decoder.flush());
        String rest = heldBack.toString();
        heldBack.setLength(0);
        if (finish != FinishReason.LENGTH) {
            text.append(rest);
        }
        return rest;
    }

    private boolean isStopToken(int token) {
        if (!ignoreEos && tokenizer.isEndOfGeneration(token)) {
            return true;
        }
        for (int id : stopTokenIds) {
            if (id == token) {
                return true;
            }
        }
        return false;
    }

    /** @return the held-back text that can no longer be part of a stop string, or up to a stop string found */
    private String releasable() {
        int keep = 0;
        for (String stop : stopStrings) {
            int at = heldBack.indexOf(stop);
            if (at >= 0) {
                finish = FinishReason.STOP;
                String before = heldBack.substring(0, at);
                heldBack.setLength(0);
                return before;
            }
            keep = Math.max(keep, longestSuffixThatStarts(stop));
        }
        String release = heldBack.substring(0, heldBack.length() - keep);
        heldBack.delete(0, heldBack.length() - keep);
        return release;
    }

    /** @return the length of the longest suffix of the held-back text that is a proper prefix of {@code stop} */
    private int longestSuffixThatStarts(String stop) {
        for (int n = Math.min(stop.length() - 1, heldBack.length()); n > 0; n--) {
            if (CharSequence.compare(heldBack.subSequence(heldBack.length() - n, heldBack.length()),
                    stop.subSequence(0, n)) == 0) {
                return n;
            }
        }
        return 0;
    }

    private GeneratedToken withLogprobs(int token, String piece, Logprobs logprobs) {
        List<GeneratedToken.TokenLogprob> top = new ArrayList<>(logprobs.topIds().length);
        for (int j = 0; j < logprobs.topIds().length; j++) {
            int id = logprobs.topIds()[j];
            top.add(new GeneratedToken.TokenLogprob(id,
                    new String(tokenizer.tokenBytes(id, true), StandardCharsets.UTF_8), logprobs.topLogprobs()[j]));
        }
        return new GeneratedToken(token, piece, logprobs.logprob(), top);
    }

    /** @return the end-of-generation or stop token that ended generation, or -1 */
    public int stopToken() {
        return stopToken;
    }

    /** @return why generation ended, or {@code null} while it goes on */
    public FinishReason finishReason() {
        return finish;
    }

    /** @return the tokens: the prompt, then the generated ones; an array the sequence keeps writing to */
    public int[] tokenArray() {
        return tokens;
    }

    /** @return the number of tokens, prompt included */
    public int length() {
        return length;
    }

    /** @return the number of prompt tokens */
    public int promptLength() {
        return promptLength;
    }

    /** @return the number of generated tokens */
    public int generatedLength() {
        return length - promptLength;
    }

    /** @return the most tokens the sequence may hold */
    public int capacity() {
        return tokens.length;
    }

    /** @return the generated token ids */
    public int[] generatedTokens() {
        return Arrays.copyOfRange(tokens, promptLength, length);
    }

    /** @return the text streamed so far (plus, once finished, what {@link #finish()} released) */
    public String text() {
        return text.toString();
    }
}
