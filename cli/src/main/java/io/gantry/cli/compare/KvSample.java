package io.gantry.cli.compare;

/**
 * The engine's state at one moment of a run, from its metrics ({@code gantry:kv_cache_usage_perc},
 * {@code gantry:num_requests_running}, {@code gantry:num_requests_waiting}).
 *
 * @param seconds  since the run's start
 * @param kvUsage  the fraction of KV blocks held by sequences, 0 to 1
 * @param running  requests running
 * @param waiting  requests waiting (new or preempted)
 */
public record KvSample(double seconds, double kvUsage, int running, int waiting) {
}
