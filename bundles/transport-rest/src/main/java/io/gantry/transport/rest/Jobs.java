package io.gantry.transport.rest;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;

import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.InferenceService;

import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;

/**
 * Asynchronous generations: a job is submitted and answered at once with its id; its status and result are polled
 * and it can be cancelled. A running job is always kept; a finished one is kept for {@code ttl} after it finished,
 * and at most {@code maxFinished} finished jobs are kept (the least recently used go first).
 */
final class Jobs {

    private final Cache<String, Job> jobs;

    /** One asynchronous generation: a {@link Generation} of one choice that nobody waits on. */
    static final class Job {
        final String id;
        final String model;
        final long created;
        final Generation generation;

        Job(String id, String model, long created, Generation generation) {
            this.id = id;
            this.model = model;
            this.created = created;
            this.generation = generation;
        }

        boolean finished() {
            return generation.ended();
        }

        /** @return the job as JSON: status, and the result or error once finished */
        synchronized ObjectNode view() {
            Generation.Choice choice = generation.choices().getFirst();
            Object end = choice.end();
            choice.take(false);
            ObjectNode view = JsonBody.MAPPER.createObjectNode().put("id", id).put("object", "generation.job")
                    .put("model", model).put("created", created);
            if (end == null) {
                view.put("status", choice.stream.started() ? "running" : "queued");
            } else if (end instanceof Completion done && done.reason() != FinishReason.TIMEOUT) {
                boolean cancelled = done.reason() == FinishReason.CANCELLED;
                view.put("status", cancelled ? "cancelled" : "succeeded");
                view.set("result", CompletionEndpoints.generateResult(model, choice.text.toString(),
                        cancelled ? "cancelled" : Generation.finishReason(done), generation.usage()));
            } else {
                view.put("status", "failed");
                view.set("error", RestServer.errorBody(Generation.failure(end, "prompt")).get("error"));
            }
            return view;
        }
    }

    /**
     * @param ttl         how long a finished job is kept
     * @param maxFinished the most finished jobs kept
     */
    Jobs(Duration ttl, long maxFinished) {
        this.jobs = Caffeine.newBuilder()
                // Running jobs weigh nothing, so only finished ones count against the bound and are evicted.
                .maximumWeight(maxFinished)
                .<String, Job>weigher((id, job) -> job.finished() ? 1 : 0)
                .expireAfter(new Expiry<String, Job>() {
                    @Override
                    public long expireAfterCreate(String id, Job job, long now) {
                        return job.finished() ? ttl.toNanos() : Long.MAX_VALUE;
                    }

                    @Override
                    public long expireAfterUpdate(String id, Job job, long now, long current) {
                        return expireAfterCreate(id, job, now);
                    }

                    @Override
                    public long expireAfterRead(String id, Job job, long now, long current) {
                        return current;
                    }
                })
                .build();
    }

    /**
     * Submits a job.
     *
     * @param active where its generation is registered while it runs
     * @throws ApiException if the engine refuses it
     */
    Job start(InferenceService service, CompletionRequest request, Set<Generation> active) {
        Generation generation = Generation.submit(service, request, Integer.MAX_VALUE, null, active);
        Job job = new Job("job-" + UUID.randomUUID(), request.model(), Instant.now().getEpochSecond(), generation);
        jobs.put(job.id, job);
        // Re-put when it ends, so that it is weighed and timed as finished; off the engine's thread.
        generation.choices().getFirst().handle.completion().whenCompleteAsync((completion, error) -> {
            generation.close();
            jobs.asMap().computeIfPresent(job.id, (id, same) -> same);
        });
        return job;
    }

    /** @return the job, or {@code null} if there is none with this id (or it expired) */
    Job get(String id) {
        return jobs.getIfPresent(id);
    }

    /** Cancels every running job and forgets them all. */
    void close() {
        jobs.asMap().values().forEach(job -> job.generation.cancel());
        jobs.invalidateAll();
    }
}
