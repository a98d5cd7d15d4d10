package io.gantry.api.scheduler;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One sequence (a request being generated) as a scheduler sees it. Implemented by the engine only;
 * valid only during the {@link Scheduler#plan} call that received it.
 */
@ProviderType
public interface SequenceView {

    /** @return the engine's id for this sequence, unique while the engine runs */
    long id();

    /** @return where the sequence is in its life */
    SequenceState state();

    /** @return the number of prompt tokens */
    int promptTokens();

    /** @return the number of tokens generated so far */
    int generatedTokens();

    /**
     * @return the number of tokens whose KV entries are already computed; a preempted sequence has 0,
     *         a sequence whose prompt hit the prefix cache starts above 0
     */
    int computedTokens();

    /**
     * @return tokens that must be fed through the model before this sequence yields its next token:
     *         {@code promptTokens() + generatedTokens() - computedTokens()}; 1 for a decoding sequence,
     *         more while a prompt (or a preempted sequence's history) is being prefilled
     */
    default int pendingTokens() {
        return promptTokens() + generatedTokens() - computedTokens();
    }

    /** @return whether the sequence still has more than one pending token, i.e. is in prefill */
    default boolean isPrefilling() {
        return pendingTokens() > 1;
    }

    /** @return the request's {@code max_tokens}: how many tokens it may still generate at most */
    int maxTokens();

    /** @return the request's priority; larger is more urgent, 0 is the default */
    int priority();

    /** @return when the request arrived, in {@link System#nanoTime()} units */
    long arrivalNanos();

    /** @return how many times this sequence has been preempted so far */
    int preemptions();
}
