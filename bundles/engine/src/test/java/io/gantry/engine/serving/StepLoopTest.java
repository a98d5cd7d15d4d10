package io.gantry.engine.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.TensorType;
import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GenerationHandle;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;
import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.engine.gguf.SharedModels;
import io.gantry.engine.model.Generator;
import io.gantry.engine.model.Transformer;
import io.gantry.engine.model.ModelWeights;
import io.gantry.kv.contiguous.ContiguousKvAllocator;
import io.gantry.kv.paged.PagedKvAllocator;
import io.gantry.scheduler.continuous.ContinuousScheduler;
import io.gantry.scheduler.fixed.StaticScheduler;
import io.gantry.scheduler.priority.PriorityScheduler;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The step loop on stories260K with the real policies: many concurrent greedy requests give exactly the text each
 * gives alone, under every scheduler and allocator and across swaps; cancellation frees KV space; admission
 * limits refuse at once.
 */
class StepLoopTest {

    private static final List<String> PROMPTS = List.of("Once upon a time", "Tom had a red ball. He",
            "The cat sat on the", "Lily wanted to play", "One day, a little bird", "The sun was hot and",
            "Sam and his dog went", "There was a big tree", "Mom said", "The boy ran to the park and",
            "A little girl named Sue", "It was a rainy day");

    private static ServingModel model;
    private static CpuBackend backend;
    private static List<String> alone;

    @BeforeAll
    static void load() throws IOException {
        model = ServingModel.open(null, SharedModels.require("stories260K.gguf"));
        backend = new CpuBackend(2, true);
        alone = new ArrayList<>();
        for (int i = 0; i < PROMPTS.size(); i++) {
            alone.add(generateAlone(prompt(i), maxTokens(i)));
        }
    }

    /** @return the greedy text of one request run by itself, without the step loop */
    private static String generateAlone(int[] prompt, int maxTokens) throws IOException {
        try (ModelWeights weights = ModelWeights.upload(model.file(), model.config(), backend);
             Transformer transformer = new Transformer(weights, 64, 1, 1024)) {
            return new Generator(transformer, model.tokenizer())
                    .generate(Generator.Request.greedy(prompt, maxTokens), (s, t) -> { }).text();
        }
    }

    @AfterAll
    static void unload() {
        if (backend != null) {
            backend.close();
        }
        if (model != null) {
            model.close();
        }
    }

    private static int[] prompt(int i) {
        return model.tokenizer().encode(PROMPTS.get(i), true, true);
    }

    private static int maxTokens(int i) {
        return 20 + 13 * i % 50;
    }

    private static GenerationRequest request(int i) {
        return new GenerationRequest(model.id(), new Prompt.Text(PROMPTS.get(i)), SamplingParams.GREEDY,
                maxTokens(i), List.of(), null, false, -1, i % 3, null, null);
    }

    private static StepLoop loop(DirectPlugins plugins, int maxNumSeqs, int maxWaiting) {
        StepLoop loop = new StepLoop(model, plugins,
                new ServingLimits(maxNumSeqs, 48, maxWaiting, 8L << 20, Duration.ofMinutes(1)), new AtomicLong(),
                "default");
        loop.start();
        return loop;
    }

    static Stream<Arguments> policies() {
        List<Supplier<Scheduler>> schedulers = List.of(ContinuousScheduler::new, StaticScheduler::new,
                PriorityScheduler::new);
        List<Supplier<KvCacheAllocator>> allocators = List.of(() -> new PagedKvAllocator(16, true),
                () -> new PagedKvAllocator(4, false), ContiguousKvAllocator::new);
        return schedulers.stream().flatMap(s -> allocators.stream().map(a -> Arguments.of(s.get(), a.get())));
    }

    @ParameterizedTest(name = "{0} with {1}")
    @MethodSource("policies")
    void concurrentRequestsGiveTheTextEachGivesAlone(Scheduler scheduler, KvCacheAllocator allocator)
            throws Exception {
        StepLoop loop = loop(new DirectPlugins(backend, allocator, scheduler), 6, 64);
        try {
            List<CollectingSink> collectors = new ArrayList<>();
            for (int i = 0; i < PROMPTS.size(); i++) {
                CollectingSink collector = new CollectingSink();
                loop.submit(request(i), prompt(i), collector);
                collectors.add(collector);
            }
            for (int i = 0; i < PROMPTS.size(); i++) {
                collectors.get(i).done.get(60, TimeUnit.SECONDS);
                assertEquals(alone.get(i), collectors.get(i).text.toString(), "request " + i);
            }
            assertEquals(0, allocator.stats().usedBlocks(), "every block is back");
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    static Stream<Scheduler> schedulersThatDeferSharedPrefills() {
        return Stream.of(new ContinuousScheduler(), new PriorityScheduler());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("schedulersThatDeferSharedPrefills")
    void aBurstWithOneSystemPromptComputesThePromptOnce(Scheduler scheduler) throws Exception {
        String system = "Once upon a time, there was a little girl named Lily. She loved to play outside with her"
                + " friends in the big green park. ";
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            prompts.add(model.tokenizer().encode(system + PROMPTS.get(i), true, true));
        }
        int shared = Arrays.mismatch(prompts.get(0), prompts.get(1));
        int sharedBlockTokens = shared - shared % 16;
        assertTrue(sharedBlockTokens >= 32, "the system prompt fills at least two 16-token blocks: " + shared);
        PagedKvAllocator allocator = new PagedKvAllocator(16, true);
        StepLoop loop = new StepLoop(model, new DirectPlugins(backend, allocator, scheduler),
                new ServingLimits(8, 512, 64, 8L << 20, Duration.ofMinutes(1)), new AtomicLong(), "default");
        loop.start();
        try {
            List<CollectingSink> collectors = new ArrayList<>();
            for (int[] prompt : prompts) {
                CollectingSink collector = new CollectingSink();
                loop.submit(new GenerationRequest(model.id(), new Prompt.Tokens(prompt), SamplingParams.GREEDY, 24,
                        List.of(), null, false, -1, 0, null, null), prompt, collector);
                collectors.add(collector);
            }
            for (int i = 0; i < prompts.size(); i++) {
                collectors.get(i).done.get(60, TimeUnit.SECONDS);
                assertEquals(generateAlone(prompts.get(i), 24), collectors.get(i).text.toString(), "request " + i);
            }
            assertTrue(allocator.stats().prefixHits() >= (prompts.size() - 1L) * sharedBlockTokens,
                    "all but the first reuse the system prompt's blocks, although all arrived at once: "
                            + allocator.stats());
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void swappingSchedulerAndAllocatorWhileRunningLosesNothingAndChangesNoText() throws Exception {
        DirectPlugins plugins = new DirectPlugins(backend, new PagedKvAllocator(16, true),
                new ContinuousScheduler());
        StepLoop loop = loop(plugins, 8, 64);
        try {
            List<CollectingSink> collectors = new ArrayList<>();
            for (int i = 0; i < PROMPTS.size(); i++) {
                CollectingSink collector = new CollectingSink();
                loop.submit(request(i), prompt(i), collector);
                collectors.add(collector);
            }
            collectors.getFirst().firstToken.await(30, TimeUnit.SECONDS);
            plugins.allocator = new ContiguousKvAllocator();
            plugins.scheduler = new PriorityScheduler();
            Thread.sleep(20);
            plugins.allocator = new PagedKvAllocator(8, true);
            plugins.scheduler = new StaticScheduler();
            for (int i = 0; i < PROMPTS.size(); i++) {
                Completion completion = collectors.get(i).done.get(60, TimeUnit.SECONDS);
                assertEquals(alone.get(i), collectors.get(i).text.toString(), "request " + i);
                assertTrue(completion.reason() == FinishReason.LENGTH || completion.reason() == FinishReason.STOP);
            }
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void metricsCountEveryRequestTokenAndLatency() throws Exception {
        StepLoop loop = loop(new DirectPlugins(backend, new PagedKvAllocator(16, true), new ContinuousScheduler()),
                4, 64);
        try {
            List<CollectingSink> collectors = new ArrayList<>();
            int promptTokens = 0;
            for (int i = 0; i < PROMPTS.size(); i++) {
                CollectingSink collector = new CollectingSink();
                loop.submit(request(i), prompt(i), collector);
                collectors.add(collector);
                promptTokens += prompt(i).length;
            }
            long generated = 0;
            for (CollectingSink collector : collectors) {
                generated += collector.done.get(60, TimeUnit.SECONDS).completionTokens();
            }
            Map<String, MetricFamily> families = new HashMap<>();
            loop.metrics().collect().forEach(family -> families.put(family.name(), family));
            assertEquals(promptTokens, value(families, "gantry:prompt_tokens_total"));
            assertEquals(generated, value(families, "gantry:generation_tokens_total"));
            assertEquals(0, value(families, "gantry:num_requests_running"));
            double ended = families.get("gantry:request_success_total").samples().stream()
                    .mapToDouble(sample -> ((MetricSample.Value) sample).value()).sum();
            assertEquals(PROMPTS.size(), ended);
            MetricSample.Distribution ttft = (MetricSample.Distribution) families
                    .get("gantry:time_to_first_token_seconds").samples().getFirst();
            assertEquals(PROMPTS.size(), ttft.count());
            assertTrue(ttft.sum() > 0);
            MetricSample.Distribution itl = (MetricSample.Distribution) families
                    .get("gantry:inter_token_latency_seconds").samples().getFirst();
            assertEquals(generated - PROMPTS.size(), itl.count());
            assertEquals(Map.of("model_name", model.id(), "variant", "default"), ttft.labels());
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    private static double value(Map<String, MetricFamily> families, String name) {
        return ((MetricSample.Value) families.get(name).samples().getFirst()).value();
    }

    @Test
    void maxModelLenBoundsSequencesBelowTheContext() throws Exception {
        StepLoop loop = new StepLoop(model, new DirectPlugins(backend, new ContiguousKvAllocator(),
                new ContinuousScheduler()), new ServingLimits(4, 48, 8, 8L << 20, Duration.ofMinutes(1), 64, TensorType.F32),
                new AtomicLong(), "default");
        loop.start();
        try {
            GenerationRequest tooLong = new GenerationRequest(model.id(), new Prompt.Text("Hi"),
                    SamplingParams.GREEDY, 64, List.of(), null, false, -1, 0, null, null);
            InferenceException refused = assertThrows(InferenceException.class,
                    () -> loop.submit(tooLong, prompt(8), new CollectingSink()));
            assertEquals(InferenceException.Kind.CONTEXT_LENGTH_EXCEEDED, refused.kind());
            assertTrue(refused.getMessage().contains("64"), refused.getMessage());
            CollectingSink fits = new CollectingSink();
            loop.submit(request(8), prompt(8), fits);
            assertEquals(FinishReason.LENGTH, fits.done.get(30, TimeUnit.SECONDS).reason());
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void cancellingFreesTheKvSpaceAndEndsTheRequestAsCancelled() throws Exception {
        PagedKvAllocator allocator = new PagedKvAllocator(16, false);
        StepLoop loop = loop(new DirectPlugins(backend, allocator, new ContinuousScheduler()), 4, 64);
        try {
            CollectingSink collector = new CollectingSink();
            GenerationRequest endless = new GenerationRequest(model.id(), new Prompt.Text("Once upon a time"),
                    SamplingParams.GREEDY, 1500, List.of(), null, true, -1, 0, null, null);
            GenerationHandle handle = loop.submit(endless, prompt(0), collector);
            collector.firstToken.await(30, TimeUnit.SECONDS);
            handle.cancel();
            Completion completion = collector.done.get(30, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED, completion.reason());
            assertEquals(completion, handle.completion().toCompletableFuture().get());
            assertEquals(0, allocator.stats().usedBlocks());
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void untilContextFullGeneratesUntilPromptAndOutputFillTheContext() throws Exception {
        StepLoop loop = loop(new DirectPlugins(backend, new PagedKvAllocator(16, true), new ContinuousScheduler()),
                1, 2);
        try {
            CollectingSink collector = new CollectingSink();
            loop.submit(new GenerationRequest(model.id(), new Prompt.Text(PROMPTS.get(0)), SamplingParams.GREEDY,
                    GenerationRequest.UNTIL_CONTEXT_FULL, List.of(), null, true, -1, 0, null, null), prompt(0),
                    collector);
            Completion completion = collector.done.get(60, TimeUnit.SECONDS);
            assertEquals(FinishReason.LENGTH, completion.reason());
            assertEquals(model.config().contextLength(), completion.promptTokens() + completion.completionTokens());

            int[] fillsTheContext = new int[model.config().contextLength()];
            Arrays.fill(fillsTheContext, prompt(0)[1]);
            InferenceException full = assertThrows(InferenceException.class, () -> loop.submit(
                    new GenerationRequest(model.id(), new Prompt.Tokens(fillsTheContext), SamplingParams.GREEDY,
                            GenerationRequest.UNTIL_CONTEXT_FULL, List.of(), null, false, -1, 0, null, null),
                    fillsTheContext, new CollectingSink()));
            assertEquals(InferenceException.Kind.CONTEXT_LENGTH_EXCEEDED, full.kind());
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void requestsBeyondTheContextOrTheQueueAreRefusedAtOnce() throws Exception {
        StepLoop loop = loop(new DirectPlugins(backend, new PagedKvAllocator(16, true), new ContinuousScheduler()),
                1, 2);
        try {
            GenerationRequest tooLong = new GenerationRequest(model.id(), new Prompt.Text("Hi"),
                    SamplingParams.GREEDY, model.config().contextLength(), List.of(), null, false, -1, 0, null, null);
            InferenceException context = assertThrows(InferenceException.class,
                    () -> loop.submit(tooLong, prompt(0), new CollectingSink()));
            assertEquals(InferenceException.Kind.CONTEXT_LENGTH_EXCEEDED, context.kind());
            List<GenerationHandle> accepted = new ArrayList<>();
            InferenceException overloaded = assertThrows(InferenceException.class, () -> {
                for (int i = 0; i < 100; i++) {
                    accepted.add(loop.submit(new GenerationRequest(model.id(), new Prompt.Text("Hi"),
                            SamplingParams.GREEDY, 500, List.of(), null, true, -1, 0, null, null), prompt(0),
                            new CollectingSink()));
                }
            });
            assertEquals(InferenceException.Kind.OVERLOADED, overloaded.kind());
            assertTrue(accepted.size() < 100, "the queue is bounded");
            accepted.forEach(GenerationHandle::cancel);
        } finally {
            loop.stop(Duration.ofSeconds(10));
        }
    }
}
