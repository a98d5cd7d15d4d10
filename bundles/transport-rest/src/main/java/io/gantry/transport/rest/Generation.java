package io.gantry.transport.rest;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.TokenSink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;

/**
 * The choices of one completion request, submitted to the engine together and ended together: if one cannot be
 * submitted, those already submitted are cancelled; closing cancels whatever still runs (a client that went away
 * frees its KV space at the engine's next step).
 */
final class Generation implements AutoCloseable {

    /** The request attribute holding the generation a request ran, for what is counted after it ends. */
    static final String ATTRIBUTE = "gantry.generation";

    private final CompletionRequest request;
    private final List<Choice> choices;
    private final Set<Generation> active;

    /** One choice: its stream from the engine, and what the reader has taken from it so far. */
    static final class Choice {
        final int index;
        final ChoiceStream stream;
        GenerationHandle handle;
        final StringBuilder text = new StringBuilder();
        /** The tokens read so far when log-probabilities are reported; otherwise stays empty. */
        final List<GeneratedToken> tokens = new ArrayList<>();
        boolean reported;

        Choice(int index, ChoiceStream stream) {
            this.index = index;
            this.stream = stream;
        }

        /** @return how the choice ended, once it has: a {@link Completion} or an {@link InferenceException} */
        Object end() {
            return stream.end();
        }

        /** Takes the tokens that arrived: appends their text and, if {@code keepTokens}, keeps them. */
        List<GeneratedToken> take(boolean keepTokens) {
            List<GeneratedToken> batch = new ArrayList<>();
            stream.drainTo(batch);
            for (GeneratedToken token : batch) {
                text.append(token.text());
            }
            if (keepTokens) {
                tokens.addAll(batch);
            }
            return batch;
        }
    }

    private Generation(CompletionRequest request, List<Choice> choices, Set<Generation> active) {
        this.request = request;
        this.choices = choices;
        this.active = active;
    }

    /**
     * Submits every choice of a request.
     *
     * @param capacity tokens each choice may hold for its reader before it counts as overflowed
     * @param reader   the thread to wake when tokens arrive, or {@code null} when the generation is only polled
     * @param active   where the generation is registered while it runs, so a stopping server can cancel it
     * @throws ApiException if a choice is refused; the choices submitted before it are cancelled
     */
    static Generation submit(InferenceService service, CompletionRequest request, int capacity, Thread reader,
            Set<Generation> active) {
        return submit(service, request, capacity, reader, active, UnaryOperator.identity());
    }

    /**
     * Submits every choice of a request, the engine's tokens passing through {@code tap} on their way to each
     * choice's stream (the response cache records them there).
     *
     * @see #submit(InferenceService, CompletionRequest, int, Thread, Set)
     */
    static Generation submit(InferenceService service, CompletionRequest request, int capacity, Thread reader,
            Set<Generation> active, UnaryOperator<TokenSink> tap) {
        List<Choice> choices = new ArrayList<>(request.choices().size());
        Generation generation = new Generation(request, choices, active);
        active.add(generation);
        try {
            for (GenerationRequest choiceRequest : request.choices()) {
                Choice choice = new Choice(choices.size(), new ChoiceStream(capacity, reader));
                choice.handle = service.submit(choiceRequest, tap.apply(choice.stream));
                choices.add(choice);
            }
        } catch (InferenceException e) {
            generation.close();
            throw ApiException.from(e, request.promptParam());
        } catch (RuntimeException e) {
            generation.close();
            throw e;
        }
        return generation;
    }

    /**
     * A one-choice generation that has already ended: a stored response fed to its stream, as if the engine had
     * generated it. It is never registered as active, since nothing runs.
     */
    static Generation replay(CompletionRequest request, List<GeneratedToken> tokens, Completion completion) {
        ChoiceStream stream = new ChoiceStream(Integer.MAX_VALUE, null);
        tokens.forEach(stream::onToken);
        stream.onComplete(completion);
        return new Generation(request, List.of(new Choice(0, stream)), new HashSet<>());
    }

    CompletionRequest request() {
        return request;
    }

    List<Choice> choices() {
        return choices;
    }

    /** @return whether every choice has ended */
    boolean ended() {
        return choices.stream().allMatch(choice -> choice.end() != null);
    }

    /** Waits, on the reader thread given to {@link #submit}, until every choice has ended. */
    void awaitEnd() throws InterruptedException {
        while (!ended()) {
            LockSupport.park(this);
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }

    /**
     * Waits on any thread until every choice has ended or the time is up.
     *
     * @return whether every choice has ended
     */
    boolean awaitEnd(Duration timeout) {
        try {
            for (Choice choice : choices) {
                choice.handle.completion().toCompletableFuture().get(timeout.toMillis(),
                        TimeUnit.MILLISECONDS);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | TimeoutException e) {
            return ended();
        }
    }

    /**
     * Runs an action once every choice has ended: at once, on this thread, if they have; otherwise off the engine's
     * thread when the last one ends.
     */
    void whenEnded(Runnable action) {
        if (ended()) {
            action.run();
            return;
        }
        CompletableFuture<?>[] ends = choices.stream()
                .map(choice -> choice.handle.completion().toCompletableFuture().handle((completion, error) -> null))
                .toArray(CompletableFuture<?>[]::new);
        CompletableFuture.allOf(ends).thenRunAsync(action);
    }

    /** Cancels every choice still running. */
    void cancel() {
        for (Choice choice : choices) {
            if (choice.handle != null) {
                choice.handle.cancel();
            }
        }
    }

    /** Cancels what still runs and forgets the generation. */
    @Override
    public void close() {
        cancel();
        active.remove(this);
    }

    /**
     * @return the error to answer with if a choice did not end normally (failed, timed out or was cancelled by
     *         the server), or {@code null} if every choice stopped or reached its length
     */
    ApiException failure() {
        for (Choice choice : choices) {
            ApiException failure = failure(choice.end(), request.promptParam());
            if (failure != null) {
                return failure;
            }
        }
        return null;
    }

    /** @return the error for how a choice ended, or {@code null} if it ended normally */
    static ApiException failure(Object end, String promptParam) {
        if (end instanceof InferenceException error) {
            return ApiException.from(error, promptParam);
        }
        if (end instanceof Completion completion) {
            if (completion.reason() == FinishReason.TIMEOUT) {
                return ApiException.timeout();
            }
            if (completion.reason() == FinishReason.CANCELLED) {
                return new ApiException(503, "server_error", null, "cancelled",
                        "The request was cancelled by the server", ApiException.RETRY_UNAVAILABLE_SECONDS);
            }
        }
        return null;
    }

    /**
     * The token counts of the whole request, as OpenAI reports them: each prompt counted once however many
     * choices it has.
     *
     * @param promptTokens     prompt tokens
     * @param completionTokens tokens generated, over all choices
     * @param cachedTokens     prompt tokens whose KV came from the prefix cache
     */
    record Usage(int promptTokens, int completionTokens, int cachedTokens) {
    }

    /** @return the usage over the choices that completed */
    Usage usage() {
        int prompt = 0;
        int completion = 0;
        int cached = 0;
        for (Choice choice : choices) {
            if (choice.end() instanceof Completion done) {
                completion += done.completionTokens();
                if (choice.index % request.n() == 0) {
                    prompt += done.promptTokens();
                    cached += done.cachedPromptTokens();
                }
            }
        }
        return new Usage(prompt, completion, cached);
    }

    /** @return the OpenAI {@code finish_reason} of a completed choice: {@code stop} or {@code length} */
    static String finishReason(Completion completion) {
        return completion.reason() == FinishReason.LENGTH ? "length" : "stop";
    }
}
