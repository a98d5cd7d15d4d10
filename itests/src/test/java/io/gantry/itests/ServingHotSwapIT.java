package io.gantry.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.inference.Completion;
import io.gantry.api.inference.FinishReason;
import io.gantry.api.inference.GeneratedToken;
import io.gantry.api.inference.GenerationRequest;
import io.gantry.api.inference.InferenceException;
import io.gantry.api.inference.InferenceService;
import io.gantry.api.inference.Prompt;
import io.gantry.api.inference.SamplingParams;
import io.gantry.api.inference.TokenSink;
import io.gantry.api.metrics.MetricFamily;
import io.gantry.api.metrics.MetricSample;
import io.gantry.api.metrics.MetricsSource;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.inject.Inject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The serving core in a real Felix with the distribution's bundles, serving stories260K: 16 greedy streams run
 * while the scheduler, the KV allocator and the backend are each switched through {@code .cfg} files, and every
 * stream ends normally with exactly the text it gives without the switches; and an online A/B comparison splits
 * the traffic between two variants, labels the metrics, and gives every request the same text either way.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ServingHotSwapIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final String MODEL = "stories260K";
    private static final String ENGINE_CFG = "io.gantry.engine.cfg";
    private static final List<String> PROMPTS = List.of("Once upon a time", "Tom had a red ball. He",
            "The cat sat on the", "Lily wanted to play", "One day, a little bird", "The sun was hot and",
            "Sam and his dog went", "There was a big tree", "Mom said", "The boy ran to the park and",
            "A little girl named Sue", "It was a rainy day", "The dog barked at", "Ben found a box",
            "In the garden there was", "The little fish swam");

    @Inject
    private BundleContext context;

    @Configuration
    public Option[] configuration() throws IOException {
        Path distribution = Path.of(System.getProperty("gantry.distribution"));
        Path work = Path.of(System.getProperty("gantry.itest.work")).resolve("serving");
        Path conf = recreate(work.resolve("conf"));
        RestProbe.configure(conf);
        Path model = Path.of(System.getProperty("gantry.shared.models", "../shared/models")).resolve(MODEL + ".gguf");
        if (Files.exists(model)) {
            Files.writeString(conf.resolve(ENGINE_CFG), engineCfg(model, ""));
        }
        List<Option> options = new ArrayList<>(List.of(
                junitBundles(),
                cleanCaches(true),
                systemProperty("gantry.itest.conf").value(conf.toString()),
                systemProperty("gantry.itest.model").value(model.toString()),
                frameworkProperty("felix.fileinstall.dir").value(conf.toString()),
                frameworkProperty("felix.fileinstall.poll").value("100"),
                frameworkProperty("felix.fileinstall.noInitialDelay").value("true"),
                frameworkProperty("felix.fileinstall.enableConfigSave").value("false"),
                frameworkProperty("ds.loglevel").value("warn"),
                // Pax Exam's fallback log takes every java.util.logging record, Jetty's debug output included.
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN")));
        try (Stream<Path> jars = Files.list(distribution.resolve("bundle"))) {
            jars.filter(jar -> jar.toString().endsWith(".jar")).sorted()
                    .forEach(jar -> options.add(bundle(jar.toUri().toString())));
        }
        return options.toArray(Option[]::new);
    }

    /** Small limits, so that 16 streams share a queue and a pool that swaps must rebuild. */
    private static String engineCfg(Path model, String more) {
        return "models = " + model.toAbsolutePath() + "\nmaxNumSeqs = 16\nmaxNumBatchedTokens = 64\nkvCacheMb = 16\n"
                + more;
    }

    @Test
    public void sixteenStreamsSurviveSchedulerAllocatorAndBackendSwapsWithUnchangedText() throws Exception {
        InferenceService engine = engineWith("", Set.of("default"));
        assertEquals(MODEL, engine.models().getFirst().id());

        List<Stream16> baseline = submitAll(engine);
        List<String> expected = new ArrayList<>();
        for (Stream16 stream : baseline) {
            assertEquals(FinishReason.LENGTH, stream.done.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).reason());
            expected.add(stream.text.toString());
        }

        List<Stream16> swapped = submitAll(engine);
        for (Stream16 stream : swapped) {
            assertTrue("every stream starts", stream.firstToken.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        }
        DeviceBackend backendBefore = service(DeviceBackend.class);
        writeCfg("io.gantry.engine.plugins.cfg", "scheduler.target = (gantry.plugin.name=static)\n"
                + "kvAllocator.target = (gantry.plugin.name=contiguous)\n");
        awaitActive(PluginKind.SCHEDULER, "static");
        awaitActive(PluginKind.KV_ALLOCATOR, "contiguous");
        assertTrue("the swaps happen while the streams run", swapped.stream().anyMatch(s -> !s.done.isDone()));
        // A new configuration restarts the CPU backend component: a new backend instance, a new KV pool.
        writeCfg("io.gantry.backend.cpu.cfg", "threads = 1\n");
        awaitNewBackend(backendBefore);
        writeCfg("io.gantry.engine.plugins.cfg", "scheduler.target = (gantry.plugin.name=priority)\n");
        awaitActive(PluginKind.SCHEDULER, "priority");
        awaitActive(PluginKind.KV_ALLOCATOR, "paged");

        for (int i = 0; i < swapped.size(); i++) {
            Completion completion = swapped.get(i).done.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(FinishReason.LENGTH, completion.reason());
            assertEquals("stream " + i, expected.get(i), swapped.get(i).text.toString());
        }
    }

    @Test
    public void abVariantsSplitTheTrafficLabelTheMetricsAndGiveTheSameText() throws Exception {
        InferenceService engine = engineWith(
                "variants = control:1:continuous+paged, test:1:priority+contiguous\n", Set.of("control", "test"));
        List<Stream16> first = new ArrayList<>();
        List<Stream16> second = new ArrayList<>();
        for (int i = 0; i < PROMPTS.size(); i++) {
            first.add(submit(engine, PROMPTS.get(i), 40, "alice-" + i));
            second.add(submit(engine, PROMPTS.get(i), 40, "bob-" + i));
        }
        for (int i = 0; i < PROMPTS.size(); i++) {
            first.get(i).done.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            second.get(i).done.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertEquals("prompt " + i, first.get(i).text.toString(), second.get(i).text.toString());
        }
        Map<String, Double> ended = new TreeMap<>();
        for (MetricFamily family : ((MetricsSource) engine).collect()) {
            if (family.name().equals("gantry:request_success_total")) {
                for (MetricSample sample : family.samples()) {
                    ended.merge(sample.labels().get("variant"), ((MetricSample.Value) sample).value(), Double::sum);
                }
            }
        }
        assertEquals(Set.of("control", "test"), ended.keySet());
        assertEquals(2.0 * PROMPTS.size(), ended.values().stream().mapToDouble(Double::doubleValue).sum(), 0);
        assertTrue("both variants serve requests: " + ended, ended.values().stream().allMatch(n -> n > 0));
    }

    /**
     * Configures the engine and waits for its services with exactly these variants (a new configuration
     * restarts the engine component, which registers new services once the model is loaded).
     */
    private InferenceService engineWith(String variants, Set<String> expected) throws Exception {
        Path model = Path.of(System.getProperty("gantry.itest.model"));
        assumeTrue("stories260K.gguf is not in ../shared/models; skipping the serving itest", Files.exists(model));
        writeCfg(ENGINE_CFG, engineCfg(model, variants));
        return awaitEngine(expected);
    }

    /** Waits for the engine's services with exactly these variants. */
    private InferenceService awaitEngine(Set<String> expected) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            ServiceReference<?>[] references = context.getServiceReferences(MetricsSource.class.getName(), null);
            for (ServiceReference<?> reference : references == null ? new ServiceReference<?>[0] : references) {
                Object service = context.getService(reference);
                if (service instanceof InferenceService engine && variantsOf((MetricsSource) service).equals(expected)) {
                    return engine;
                }
            }
            Thread.sleep(50);
        }
        fail("No engine with variants " + expected + " within " + TIMEOUT);
        return null;
    }

    private static Set<String> variantsOf(MetricsSource source) {
        Set<String> variants = new TreeSet<>();
        for (MetricFamily family : source.collect()) {
            family.samples().forEach(sample -> variants.add(sample.labels().get("variant")));
        }
        return variants;
    }

    @Test
    public void theRestTransportServesAChatCompletion() throws Exception {
        assumeTrue("stories260K.gguf is not in ../shared/models; skipping the serving itest",
                Files.exists(Path.of(System.getProperty("gantry.itest.model"))));
        String endpoint = RestProbe.endpoint(context);
        service(InferenceService.class);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (RestProbe.get(endpoint + "/health").statusCode() != 200) {
            assertTrue("/health never answered 200 while a model is served", System.nanoTime() < deadline);
            Thread.sleep(20);
        }
        HttpResponse<String> response = RestProbe.post(endpoint + "/v1/chat/completions", "{\"model\": \"" + MODEL
                + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Once upon a time\"}], "
                + "\"max_tokens\": 20}");
        assertEquals(response.body(), 200, response.statusCode());
        assertTrue(response.body(), response.body().contains("\"object\":\"chat.completion\"")
                && response.body().contains("\"completion_tokens\":"));

        // /metrics gathers the engine's MetricsSource, the transport's own metrics and the response cache's.
        HttpResponse<String> metrics = RestProbe.get(endpoint + "/metrics");
        assertEquals(200, metrics.statusCode());
        for (String expected : List.of("gantry:generation_tokens_total{", "# TYPE gantry:http_requests_total counter",
                "gantry:http_requests_total{method=\"POST\",route=\"/v1/chat/completions\",status=\"200\"}",
                "# TYPE gantry:response_cache_entries gauge")) {
            assertTrue(expected + " in\n" + metrics.body(), metrics.body().contains(expected));
        }
    }

    @Test
    public void theAdminApiListsAndSwitchesPluginsAndSetsVariants() throws Exception {
        String endpoint = RestProbe.endpoint(context);
        PluginRegistry registry = service(PluginRegistry.class);
        HttpResponse<String> bundles = RestProbe.admin(endpoint + "/admin/bundles", null);
        assertEquals(bundles.body(), 200, bundles.statusCode());
        assertTrue(bundles.body(), bundles.body().contains("\"symbolic_name\":\"gantry-engine\""));
        assertEquals(401, RestProbe.get(endpoint + "/admin/plugins").statusCode());

        awaitActive(PluginKind.SCHEDULER, registry.active(PluginKind.SCHEDULER).orElseThrow().name());
        HttpResponse<String> plugins = RestProbe.admin(endpoint + "/admin/plugins", null);
        assertEquals(plugins.body(), 200, plugins.statusCode());
        assertTrue(plugins.body(), plugins.body().contains("\"name\":\"static\""));
        HttpResponse<String> select = RestProbe.admin(endpoint + "/admin/plugins/scheduler", "{\"name\": \"static\"}");
        assertEquals(select.body(), 202, select.statusCode());
        awaitActive(PluginKind.SCHEDULER, "static");

        assumeTrue("stories260K.gguf is not in ../shared/models; skipping the variants part",
                Files.exists(Path.of(System.getProperty("gantry.itest.model"))));
        HttpResponse<String> variants = RestProbe.admin(endpoint + "/admin/variants",
                "{\"variants\": \"a:1:continuous, b:1:static\"}");
        assertEquals(variants.body(), 202, variants.statusCode());
        InferenceService engine = awaitEngine(Set.of("a", "b"));
        assertEquals("the engine kept its other settings", MODEL, engine.models().getFirst().id());
    }

    /** One stream's text and end. */
    private static final class Stream16 implements TokenSink {
        final StringBuilder text = new StringBuilder();
        final CompletableFuture<Completion> done = new CompletableFuture<>();
        final CountDownLatch firstToken = new CountDownLatch(1);

        @Override
        public void onToken(GeneratedToken token) {
            text.append(token.text());
            firstToken.countDown();
        }

        @Override
        public void onComplete(Completion completion) {
            done.complete(completion);
        }

        @Override
        public void onError(InferenceException error) {
            done.completeExceptionally(error);
        }
    }

    private static List<Stream16> submitAll(InferenceService engine) throws InferenceException {
        List<Stream16> streams = new ArrayList<>();
        for (String prompt : PROMPTS) {
            // Long enough (ignore_eos) that the streams are still running when the swaps land.
            streams.add(submit(engine, prompt, 1600, null));
        }
        return streams;
    }

    private static Stream16 submit(InferenceService engine, String prompt, int tokens, String user)
            throws InferenceException {
        Stream16 stream = new Stream16();
        engine.submit(new GenerationRequest(MODEL, new Prompt.Text(prompt), SamplingParams.GREEDY, tokens, List.of(),
                null, true, -1, 0, null, user), stream);
        return stream;
    }

    private <T> T service(Class<T> type) throws InterruptedException {
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, type, null);
        tracker.open();
        T service = tracker.waitForService(TIMEOUT.toMillis());
        if (service == null) {
            fail("No " + type.getName() + " service within " + TIMEOUT);
        }
        return service;
    }

    private void awaitActive(PluginKind kind, String name) throws InterruptedException {
        PluginRegistry registry = service(PluginRegistry.class);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!registry.active(kind).map(PluginInfo::name).equals(Optional.of(name))) {
            if (System.nanoTime() > deadline) {
                fail(kind + " did not become " + name + "; active: " + registry.active(kind));
            }
            Thread.sleep(20);
        }
    }

    private void awaitNewBackend(DeviceBackend before) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (service(DeviceBackend.class) == before) {
            if (System.nanoTime() > deadline) {
                fail("The CPU backend was not restarted by its new configuration");
            }
            Thread.sleep(20);
        }
    }

    private static void writeCfg(String file, String content) throws IOException {
        Path conf = Path.of(System.getProperty("gantry.itest.conf"));
        Path temporary = conf.resolve(file + ".tmp");
        Files.writeString(temporary, content);
        Files.move(temporary, conf.resolve(file), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Path recreate(Path directory) throws IOException {
        if (Files.exists(directory)) {
            try (Stream<Path> files = Files.list(directory)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
        }
        return Files.createDirectories(directory);
    }
}
