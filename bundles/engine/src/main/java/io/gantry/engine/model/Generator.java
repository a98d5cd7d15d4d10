package io.gantry.engine.model;

import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.SamplingParams;
import io.gantry.engine.sampling.Logprobs;
import io.gantry.engine.sampling.Sampler;
import io.gantry.engine.tokenizer.StreamingDecoder;
import io.gantry.engine.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Runs a fixed set of generations to the end on one {@link Transformer}: the tests' and the command line's
 * driver, where the server uses the engine's scheduled step loop. All prompts are prefilled together (split
 * over steps only where they exceed the transformer's rows per step), then every unfinished sequence decodes
 * one token per step, all in the same step. Each sequence gets consecutive KV blocks for its whole length
 * ({@link BlockTables#consecutive}).
 *
 * <p>Generation ends at an end-of-generation token (which is not part of the output) unless
 * {@link Request#ignoreEos()}, at a {@linkplain Request#stop() stop string} (which is not part of the output
 * text either), after {@link Request#maxTokens()} tokens, or when prompt and output fill the model's context
 * length.
 *
 * <p>Not thread-safe: one {@link #generate} at a time, as the transformer requires.
 */
public final class Generator {

    /** KV block size of the consecutive layout; any size works, this one keeps the tables short. */
    private static final int BLOCK_SIZE = 16;

    /**
     * One generation.
     *
     * @param prompt      the prompt's token ids, BOS included where the model wants one; not empty
     * @param sampling    how to choose tokens
     * @param maxTokens   the most tokens to generate, at least 1
     * @param ignoreEos   whether to go on past end-of-generation tokens
     * @param topLogprobs alternatives to report per token as in {@link GenerationRequest#topLogprobs()}: -1 for no
     *                    log-probabilities, 0 for the chosen token's only
     * @param stop        strings that end generation when the output text contains one, none empty
     */
    public record Request(int[] prompt, SamplingParams sampling, int maxTokens, boolean ignoreEos, int topLogprobs,
            List<String> stop) {

        /** Copies the prompt and the stop strings and checks the values. */
        public Request {
            if (prompt.length == 0) {
                throw new IllegalArgumentException("The prompt must hold at least one token");
            }
            prompt = prompt.clone();
            Objects.requireNonNull(sampling, "sampling");
            if (maxTokens < 1) {
                throw new IllegalArgumentException("maxTokens must be at least 1, got " + maxTokens);
            }
            if (topLogprobs < -1 || topLogprobs > GenerationRequest.MAX_TOP_LOGPROBS) {
                throw new IllegalArgumentException("topLogprobs must be between -1 and "
                        + GenerationRequest.MAX_TOP_LOGPROBS + ", got " + topLogprobs);
            }
            stop = List.copyOf(stop);
            if (stop.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException("Stop strings must not be empty");
            }
        }

        /** A request without stop strings. */
        public Request(int[] prompt, SamplingParams sampling, int maxTokens, boolean ignoreEos, int topLogprobs) {
            this(prompt, sampling, maxTokens, ignoreEos, topLogprobs, List.of());
        }

        /**
         * @param prompt    the prompt's token ids
         * @param maxTokens the most tokens to generate
         * @return a greedy request that stops at end-of-generation tokens and reports no log-probabilities
         */
        public static Request greedy(int[] prompt, int maxTokens) {
            return new Request(prompt, SamplingParams.GREEDY, maxTokens, false, -1);
        }

        @Override
        public int[] prompt() {
            return prompt.clone();
        }
    }

    /**
     * A finished generation.
     *
     * @param tokens       the generated token ids (without a final end-of-generation token)
     * @param text         their text: every streamed {@link GeneratedToken#text()} and, where generation ended at an
     *                     end-of-generation token, what was still held back (U+FFFD for the bytes of an unfinished
     *                     UTF-8 character, text that might have begun a stop string); it ends before the
     *                     first stop string
     * @param finishReason {@link FinishReason#STOP} or {@link FinishReason#LENGTH}
     */
    public record Result(int[] tokens, String text, FinishReason finishReason) {
    }

    /** Receives tokens as they are generated, on the generating thread. */
    @FunctionalInterface
    public interface Listener {
        /**
         * @param sequence the request's index in the list given to {@link #generate(List, Listener)}
         * @param token    the token, with its text and any log-probabilities
         */
        void onToken(int sequence, GeneratedToken token);
    }

    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final int vocabularySize;

    /**
     * @param transformer the model to run
     * @param tokenizer   the model's tokenizer, for streamed text and end-of-generation tokens
     */
    public Generator(Transformer transformer, Tokenizer tokenizer) {
        this.transformer = transformer;
        this.tokenizer = tokenizer;
        this.vocabularySize = transformer.config().vocabularySize();
    }

    /**
     * Runs one generation.
     *
     * @param request  what to generate
     * @param listener receives each token as it is generated
     * @return the result
     */
    public Result generate(Request request, Listener listener) {
        return generate(List.of(request), listener).getFirst();
    }

    /**
     * Runs several generations together.
     *
     * @param requests what to generate; at most {@link Transformer#maxSequences()}
     * @param listener receives each token as it is generated
     * @return the results, in the order of the requests
     * @throws IllegalArgumentException if there are too many requests, a prompt fills the context length, or
     *                                  the sequences do not fit the KV pool together
     */
    public List<Result> generate(List<Request> requests, Listener listener) {
        if (requests.isEmpty() || requests.size() > transformer.maxSequences()) {
            throw new IllegalArgumentException("Between 1 and " + transformer.maxSequences()
                    + " requests can run together, got " + requests.size());
        }
        int contextLength = transformer.config().contextLength();
        int[] lengths = new int[requests.size()];
        for (int s = 0; s < lengths.length; s++) {
            Request request = requests.get(s);
            if (request.prompt.length >= contextLength) {
                throw new IllegalArgumentException("A prompt of " + request.prompt.length
                        + " tokens leaves no room to generate within the context length of " + contextLength);
            }
            lengths[s] = (int) Math.min(contextLength, (long) request.prompt.length + request.maxTokens);
        }
        int[][] blockTables = BlockTables.consecutive(lengths, BLOCK_SIZE, transformer.kvSlots());
        List<Sequence> running = new ArrayList<>();
        for (int s = 0; s < lengths.length; s++) {
            running.add(new Sequence(s, requests.get(s), lengths[s], blockTables[s]));
        }
        Result[] results = new Result[requests.size()];
        StepBatch batch = new StepBatch(requests.size(), transformer.maxRows(), BLOCK_SIZE);
        while (!running.isEmpty()) {
            batch.clear();
            int budget = transformer.maxRows();
            for (Sequence sequence : running) {
                int count = Math.min(sequence.length - sequence.computed, budget);
                sequence.logitRow = count == 0 ? -1 : batch.add(sequence.tokens, sequence.computed, count,
                        sequence.computed, sequence.blockTable, sequence.computed + count == sequence.length);
                sequence.computed += count;
                budget -= count;
            }
            float[] logits = transformer.forward(batch);
            for (Sequence sequence : running) {
                if (sequence.logitRow >= 0) {
                    sequence.next(logits, sequence.logitRow * vocabularySize, listener);
                    if (sequence.finish != null) {
                        results[sequence.index] = sequence.result();
                    }
                }
            }
            running.removeIf(sequence -> sequence.finish != null);
        }
        return List.of(results);
    }

    /** One generation's state: its tokens so far, how many of them are in the KV pool, its sampler and decoder. */
    private final class Sequence {
        final int index;
        final Request request;
        final int[] tokens;
        final int promptLength;
        final int[] blockTable;
        final Sampler sampler;
        final StreamingDecoder decoder = new StreamingDecoder(tokenizer, false);
        final StopStrings stops;
        final StringBuilder text = new StringBuilder();
        /** Tokens known: the prompt, then each generated one. */
        int length;
        /** Leading tokens whose keys and values are in the KV pool. */
        int computed;
        int logitRow;
        FinishReason finish;

        Sequence(int index, Request request, int capacity, int[] blockTable) {
            this.index = index;
            this.request = request;
            this.tokens = Arrays.copyOf(request.prompt, capacity);
            this.promptLength = request.prompt.length;
            this.length = promptLength;
            this.blockTable = blockTable;
            this.sampler = new Sampler(request.sampling, vocabularySize, request.prompt);
            this.stops = new StopStrings(request.stop);
        }

        /** Samples the next token from the logits at {@code offset}, streams it, and decides whether to stop. */
        void next(float[] logits, int offset, Listener listener) {
            int token = sampler.sample(logits, offset);
            if (!request.ignoreEos && tokenizer.isEndOfGeneration(token)) {
                finish = FinishReason.STOP;
                text.append(release(decoder.flush(), true));
                return;
            }
            sampler.accept(token);
            tokens[length++] = token;
            boolean full = length - promptLength == request.maxTokens || length == tokens.length;
            String piece = release(full ? decoder.next(token) + decoder.flush() : decoder.next(token), full);
            if (stops.stopped()) {
                finish = FinishReason.STOP;
            } else if (full) {
                finish = FinishReason.LENGTH;
            }
            text.append(piece);
            listener.onToken(index, request.topLogprobs < 0
                    ? new GeneratedToken(token, piece, Float.NaN, List.of())
                    : withLogprobs(token, piece, Logprobs.of(logits, offset, vocabularySize, token, request.topLogprobs)));
        }

        /** @return the text of {@code piece} that passes the stop strings, and all that is held back at the end */
        String release(String piece, boolean last) {
            String released = stops.next(piece);
            return last && !stops.stopped() ? released + stops.flush() : released;
        }

        Result result() {
            return new Result(Arrays.copyOfRange(tokens, promptLength, length), text.toString(), finish);
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
    }
}
