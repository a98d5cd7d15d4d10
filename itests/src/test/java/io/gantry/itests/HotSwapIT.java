package io.gantry.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginProperties;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.api.scheduler.KvBudget;
import io.gantry.api.scheduler.Scheduler;
import io.gantry.api.scheduler.SchedulerLimits;
import io.gantry.api.scheduler.SchedulerView;
import io.gantry.api.scheduler.SequenceState;
import io.gantry.api.scheduler.SequenceView;
import io.gantry.api.scheduler.StepPlan;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Stream;
import javax.inject.Inject;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceObjects;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Boots a real Felix with every bundle of the built distribution (bundle/), FileInstall watching a
 * deploy/ and a conf/ folder of its own, and checks the foundation's promises: everything activates
 * (every scheduler and KV allocator among it), hot deploy binds a new plugin and removal falls back, a
 * .cfg edit switches the active implementation, a plugin configuration the plugin rejects falls back to
 * the next plugin, callers in a loop see no error across swaps, and the engine's privately embedded
 * libraries work in Felix.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotSwapIT {

    private static final Duration SWAP_TIMEOUT = Duration.ofSeconds(30);
    private static final String ENGINE_CFG = "io.gantry.engine.plugins.cfg";
    private static final String PAGED_CFG = "io.gantry.kv.paged.cfg";

    @Inject
    private BundleContext context;

    @Configuration
    public Option[] configuration() throws IOException {
        Path distribution = Path.of(System.getProperty("gantry.distribution"));
        Path work = Path.of(System.getProperty("gantry.itest.work"));
        Path deploy = recreate(work.resolve("deploy"));
        Path conf = recreate(work.resolve("conf"));
        RestProbe.configure(conf);
        List<Option> options = new ArrayList<>(List.of(
                junitBundles(),
                cleanCaches(true),
                systemProperty("gantry.itest.deploy").value(deploy.toString()),
                systemProperty("gantry.itest.conf").value(conf.toString()),
                systemProperty("gantry.itest.samples").value(distribution.resolve("samples").toString()),
                frameworkProperty("felix.fileinstall.dir").value(deploy + "," + conf),
                frameworkProperty("felix.fileinstall.poll").value("200"),
                frameworkProperty("felix.fileinstall.noInitialDelay").value("true"),
                frameworkProperty("felix.fileinstall.enableConfigSave").value("false"),
                frameworkProperty("ds.loglevel").value("warn"),
                // Pax Exam's fallback log takes every java.util.logging record, Jetty's debug output included.
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN")));
        List<Path> jars = jars(distribution.resolve("bundle"));
        if (jars.isEmpty()) {
            throw new IllegalStateException("No bundles in " + distribution.resolve("bundle") + "; build the distribution first");
        }
        for (Path jar : jars) {
            options.add(bundle(jar.toUri().toString()));
        }
        return options.toArray(Option[]::new);
    }

    @After
    public void restoreDefaults() throws Exception {
        Files.deleteIfExists(conf().resolve(ENGINE_CFG));
        Files.deleteIfExists(conf().resolve(PAGED_CFG));
        try (Stream<Path> deployed = Files.list(deploy())) {
            for (Path jar : deployed.toList()) {
                Files.delete(jar);
            }
        }
        awaitActiveScheduler("continuous");
        awaitActive(PluginKind.KV_ALLOCATOR, "paged");
    }

    @Test
    public void everyDistributionBundleResolvesAndEveryComponentActivates() throws Exception {
        List<String> problems = new ArrayList<>();
        for (Bundle bundle : context.getBundles()) {
            boolean fragment = bundle.getHeaders().get("Fragment-Host") != null;
            int expected = fragment ? Bundle.RESOLVED : Bundle.ACTIVE;
            if (bundle.getState() != expected) {
                problems.add(bundle.getSymbolicName() + " is in state " + bundle.getState());
            }
        }
        ServiceComponentRuntime scr = service(ServiceComponentRuntime.class);
        int components = 0;
        for (ComponentDescriptionDTO description : scr.getComponentDescriptionDTOs()) {
            if (!description.bundle.symbolicName.startsWith("gantry-")) {
                continue;
            }
            components++;
            for (ComponentConfigurationDTO configuration : scr.getComponentConfigurationDTOs(description)) {
                if (configuration.state != ComponentConfigurationDTO.ACTIVE
                        && configuration.state != ComponentConfigurationDTO.SATISFIED) {
                    problems.add(description.name + " is in component state " + configuration.state
                            + (configuration.failure == null ? "" : ": " + configuration.failure));
                }
            }
        }
        assertEquals(List.of(), problems);
        assertTrue("expected the engine, scheduler, allocator and transport components, found " + components,
                components >= 8);
        assertEquals(List.of("continuous", "priority", "static"), names(PluginKind.SCHEDULER));
        assertEquals(List.of("contiguous", "paged"), names(PluginKind.KV_ALLOCATOR));
        assertEquals(Optional.of("continuous"), registry().active(PluginKind.SCHEDULER).map(PluginInfo::name));
        assertEquals(Optional.of("paged"), registry().active(PluginKind.KV_ALLOCATOR).map(PluginInfo::name));
        assertEquals(Optional.of("memory"), registry().active(PluginKind.RESPONSE_CACHE).map(PluginInfo::name));
    }

    @Test
    public void theRestTransportAnswersHealthChecksWithoutAModel() throws Exception {
        // No model is configured here: the transport listens and says it is waiting for one.
        HttpResponse<String> health = RestProbe.get(RestProbe.endpoint(context) + "/health");
        assertEquals(503, health.statusCode());
        assertEquals("{\"status\":\"loading\"}", health.body());
    }

    @Test
    public void bothAllocatorsServeBlockTablesInOSGi() throws Exception {
        // Own instances (prototype scope), so the test never touches the instance the engine is bound to.
        assertEquals("the second sequence reuses two full 16-token blocks", 32,
                withAllocator("paged", HotSwapIT::secondSequenceReuse).intValue());
        assertEquals("contiguous reservations share nothing", 0,
                withAllocator("contiguous", HotSwapIT::secondSequenceReuse).intValue());
    }

    @Test
    public void aBadAllocatorConfigurationFallsBackAndAFixedOneTakesEffect() throws Exception {
        writeCfg(PAGED_CFG, "blockSize = 0\n");
        awaitActive(PluginKind.KV_ALLOCATOR, "contiguous");
        writeCfg(PAGED_CFG, "blockSize = 32\n");
        awaitActive(PluginKind.KV_ALLOCATOR, "paged");
        assertEquals(32, withAllocator("paged", allocator -> {
            allocator.attach(1024, 256);
            return allocator.blockSize();
        }).intValue());
    }

    @Test
    public void thePrioritySchedulerCanBeSelectedByConfiguration() throws Exception {
        writeEngineCfg("priority");
        awaitActiveScheduler("priority");
        StepPlan plan = registry().call(Scheduler.class, scheduler -> scheduler.plan(FixedView.INSTANCE), SWAP_TIMEOUT);
        assertEquals("the running and the waiting request both run", 2, plan.run().size());
    }

    @Test
    public void theEngineRendersChatTemplatesWithTheLibrariesItCarries() throws Exception {
        Bundle engine = Stream.of(context.getBundles())
                .filter(bundle -> "gantry-engine".equals(bundle.getSymbolicName()))
                .findFirst().orElseThrow();
        ChatTemplateProbe.renders(engine::loadClass);
    }

    @Test
    public void aPluginDroppedIntoDeployIsBoundAndItsRemovalFallsBack() throws Exception {
        Path deployed = deploySample();
        awaitActiveScheduler("shortest-prompt-first");
        Files.delete(deployed);
        awaitActiveScheduler("continuous");
        assertTrue("the sample must be uninstalled", registry().plugins(PluginKind.SCHEDULER).stream()
                .noneMatch(plugin -> plugin.name().equals("shortest-prompt-first")));
    }

    @Test
    public void editingTheCfgFileSwitchesTheActiveImplementation() throws Exception {
        writeEngineCfg("static");
        awaitActiveScheduler("static");
        writeEngineCfg("continuous");
        awaitActiveScheduler("continuous");
        writeEngineCfg("static");
        awaitActiveScheduler("static");
    }

    @Test
    public void callersInALoopSeeNoErrorAcrossSwaps() throws Exception {
        PluginRegistry registry = registry();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong calls = new AtomicLong();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        // Which policies answered: static keeps the waiting request out while one runs; the others admit it.
        ConcurrentHashMap<String, Boolean> behaviours = new ConcurrentHashMap<>();
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            callers.add(Thread.ofPlatform().name("caller-" + t).start(() -> {
                while (running.get()) {
                    try {
                        StepPlan plan = registry.call(Scheduler.class, scheduler -> scheduler.plan(FixedView.INSTANCE),
                                SWAP_TIMEOUT);
                        behaviours.put(plan.run().size() == 2 ? "admits" : "waits", true);
                        calls.incrementAndGet();
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }
            }));
        }
        for (int round = 0; round < 3; round++) {
            writeEngineCfg("static");
            awaitActiveScheduler("static");
            writeEngineCfg("continuous");
            awaitActiveScheduler("continuous");
        }
        Files.deleteIfExists(conf().resolve(ENGINE_CFG));
        Path deployed = deploySample();
        awaitActiveScheduler("shortest-prompt-first");
        Files.delete(deployed);
        awaitActiveScheduler("continuous");
        running.set(false);
        for (Thread caller : callers) {
            caller.join(SWAP_TIMEOUT.toMillis());
        }
        assertEquals(List.of(), errors);
        assertEquals("both static and admitting policies must have answered", 2, behaviours.size());
        assertNotEquals(0, calls.get());
    }

    /** One running (decoding) and one waiting request; plenty of KV. */
    private enum FixedView implements SchedulerView, KvBudget {
        INSTANCE;

        private record Seq(long id, SequenceState state, int promptTokens, int generatedTokens, int computedTokens)
                implements SequenceView {
            @Override
            public int maxTokens() {
                return 64;
            }

            @Override
            public int priority() {
                return 0;
            }

            @Override
            public long arrivalNanos() {
                return id;
            }

            @Override
            public int preemptions() {
                return 0;
            }
        }

        @Override
        public List<SequenceView> waiting() {
            return List.of(new Seq(2, SequenceState.WAITING, 10, 0, 0));
        }

        @Override
        public List<SequenceView> running() {
            return List.of(new Seq(1, SequenceState.RUNNING, 10, 2, 11));
        }

        @Override
        public KvBudget kv() {
            return this;
        }

        @Override
        public SchedulerLimits limits() {
            return new SchedulerLimits(8, 256);
        }

        @Override
        public long nowNanos() {
            return 0;
        }

        @Override
        public int freeBlocks() {
            return 100;
        }

        @Override
        public int totalBlocks() {
            return 100;
        }

        @Override
        public int blockSize() {
            return 16;
        }

        @Override
        public int blocksNeeded(SequenceView sequence, int tokens) {
            return 1;
        }

        @Override
        public int blocksFreedByPreempting(SequenceView sequence) {
            return 1;
        }
    }

    private PluginRegistry registry() throws InterruptedException {
        return service(PluginRegistry.class);
    }

    private <T> T service(Class<T> type) throws InterruptedException {
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, type, null);
        tracker.open();
        T service = tracker.waitForService(SWAP_TIMEOUT.toMillis());
        if (service == null) {
            fail("No " + type.getName() + " service within " + SWAP_TIMEOUT);
        }
        return service;
    }

    private void awaitActiveScheduler(String name) throws InterruptedException {
        awaitActive(PluginKind.SCHEDULER, name);
    }

    private void awaitActive(PluginKind kind, String name) throws InterruptedException {
        PluginRegistry registry = registry();
        long deadline = System.nanoTime() + SWAP_TIMEOUT.toNanos();
        Optional<String> active = Optional.empty();
        while (System.nanoTime() < deadline) {
            active = registry.active(kind).map(PluginInfo::name);
            if (active.equals(Optional.of(name))) {
                return;
            }
            Thread.sleep(50);
        }
        fail("Active " + kind.key() + " is " + active + ", expected " + name + " within " + SWAP_TIMEOUT);
    }

    /** Runs {@code use} on a new instance of the named allocator, detaching and releasing it afterwards. */
    private <R> R withAllocator(String name, Function<KvCacheAllocator, R> use) throws InvalidSyntaxException {
        Collection<ServiceReference<KvCacheAllocator>> references = context.getServiceReferences(KvCacheAllocator.class,
                PluginProperties.targetFilter(name));
        assertEquals("one " + name + " allocator expected", 1, references.size());
        ServiceObjects<KvCacheAllocator> objects = context.getServiceObjects(references.iterator().next());
        KvCacheAllocator allocator = objects.getService();
        assertNotNull("the " + name + " allocator did not activate", allocator);
        try {
            return use.apply(allocator);
        } finally {
            allocator.detach();
            objects.ungetService(allocator);
        }
    }

    /** @return how many prompt tokens a second sequence with the first one's prompt reuses */
    private static int secondSequenceReuse(KvCacheAllocator allocator) {
        allocator.attach(1024, 256);
        int[] prompt = new int[40];
        allocator.allocate(1, prompt, 40);
        allocator.commit(1, prompt, 40);
        return allocator.allocate(2, prompt, 40);
    }

    private List<String> names(PluginKind kind) throws InterruptedException {
        return registry().plugins(kind).stream().map(PluginInfo::name).toList();
    }

    private void writeEngineCfg(String scheduler) throws IOException {
        writeCfg(ENGINE_CFG, "scheduler.target = (gantry.plugin.name=" + scheduler + ")\n");
    }

    private void writeCfg(String file, String content) throws IOException {
        // Write beside, then move: FileInstall must never read a half-written file.
        Path temporary = conf().resolve(file + ".tmp");
        Files.writeString(temporary, content);
        Files.move(temporary, conf().resolve(file), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    private Path deploySample() throws IOException {
        List<Path> samples = jars(Path.of(System.getProperty("gantry.itest.samples")));
        assertEquals("exactly one sample plugin jar expected", 1, samples.size());
        Path temporary = deploy().resolve(samples.getFirst().getFileName() + ".part");
        Files.copy(samples.getFirst(), temporary, StandardCopyOption.REPLACE_EXISTING);
        return Files.move(temporary, deploy().resolve(samples.getFirst().getFileName()), StandardCopyOption.ATOMIC_MOVE);
    }

    private static Path deploy() {
        return Path.of(System.getProperty("gantry.itest.deploy"));
    }

    private static Path conf() {
        return Path.of(System.getProperty("gantry.itest.conf"));
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

    private static List<Path> jars(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(file -> file.toString().endsWith(".jar")).sorted().toList();
        }
    }
}
