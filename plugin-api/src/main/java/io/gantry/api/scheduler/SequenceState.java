package io.gantry.api.scheduler;

/** The life of a sequence as the engine tracks it. */
public enum SequenceState {
    /** Admitted to the engine's queue, holding no KV space yet. */
    WAITING,
    /** Holding KV space; prefilling or decoding. */
    RUNNING,
    /** Was running; its KV space was taken back. Keeps its tokens and must re-prefill them. */
    PREEMPTED
}
