package io.gantry.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.logging.FileHandler;
import java.util.logging.SimpleFormatter;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * Starts Gantry: an embedded Felix framework that starts every bundle in {@code bundle/}, installs and
 * removes plugin bundles dropped into {@code deploy/}, and turns {@code conf/*.cfg} files into Config
 * Admin configurations, applied live when edited (both through Felix FileInstall). A bundle that cannot
 * resolve is reported with its missing requirement and left out; the runtime keeps going. SIGTERM and
 * SIGINT stop every bundle in order and exit with status 0.
 */
public final class Launcher {

    private static final System.Logger LOG = System.getLogger(Launcher.class.getName());
    private static final long STOP_TIMEOUT_MILLIS = 60_000;

    private final LaunchOptions options;

    private Launcher(LaunchOptions options) {
        this.options = options;
    }

    /**
     * @param args see {@link LaunchOptions#USAGE}
     */
    public static void main(String[] args) {
        LaunchOptions options;
        try {
            options = LaunchOptions.parse(List.of(args), defaultHome());
        } catch (IllegalArgumentException e) {
            System.err.println("gantry: " + e.getMessage());
            System.err.println(LaunchOptions.USAGE);
            System.exit(2);
            return;
        }
        if (options.help()) {
            System.out.println(LaunchOptions.USAGE);
            return;
        }
        System.exit(new Launcher(options).run());
    }

    /** The home is {@code gantry.home} if set, else the folder above the launcher jar's {@code lib/}. */
    private static Path defaultHome() {
        String property = System.getProperty("gantry.home");
        if (property != null) {
            return Path.of(property);
        }
        try {
            Path jar = Path.of(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent() != null && jar.getParent().getParent() != null
                    ? jar.getParent().getParent() : Path.of(".");
        } catch (URISyntaxException e) {
            return Path.of(".");
        }
    }

    private int run() {
        Path home = options.home();
        try {
            for (String directory : List.of("deploy", "conf", "logs", "data")) {
                Files.createDirectories(home.resolve(directory));
            }
            logToFile(home.resolve("logs").resolve("gantry.log"));
        } catch (IOException e) {
            System.err.println("gantry: cannot prepare " + home + ": " + e.getMessage());
            return 1;
        }
        long startNanos = System.nanoTime();
        Framework framework = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new IllegalStateException("No OSGi framework on the class path"))
                .newFramework(frameworkProperties(home));
        try {
            framework.init();
            BundleContext context = framework.getBundleContext();
            context.addFrameworkListener(Launcher::logFrameworkEvent);
            framework.start();
            stopOnSignals(framework);
            List<Path> jars = new ArrayList<>(jarsIn(home.resolve("bundle")));
            if (options.shell()) {
                jars.addAll(jarsIn(home.resolve("shell")));
            }
            int failed = installAndStart(context, jars);
            LOG.log(Level.INFO, "Gantry {0} started in {1} ms: {2} bundle(s) active, {3} failed. Watching {4} and {5}",
                    version(), (System.nanoTime() - startNanos) / 1_000_000, jars.size() - failed, failed,
                    home.resolve("deploy"), home.resolve("conf"));
            FrameworkEvent stopped = framework.waitForStop(0);
            return stopped.getType() == FrameworkEvent.STOPPED ? 0 : 1;
        } catch (BundleException | RuntimeException e) {
            LOG.log(Level.ERROR, "Gantry could not start: " + e.getMessage(), e);
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /**
     * Installs every jar, then starts each bundle that is not a fragment. A bundle that fails to resolve
     * or start is reported and skipped.
     *
     * @return how many bundles failed
     */
    private static int installAndStart(BundleContext context, List<Path> jars) {
        List<Bundle> installed = new ArrayList<>();
        int failed = 0;
        for (Path jar : jars) {
            try {
                installed.add(context.installBundle(jar.toUri().toString()));
            } catch (BundleException e) {
                failed++;
                LOG.log(Level.ERROR, "Cannot install {0}: {1}", jar.getFileName(), e.getMessage());
            }
        }
        for (Bundle bundle : installed) {
            if (bundle.getHeaders().get(Constants.FRAGMENT_HOST) != null) {
                continue;
            }
            try {
                bundle.start();
            } catch (BundleException e) {
                failed++;
                LOG.log(Level.ERROR, "Bundle {0} {1} ({2}) did not start and is left out: {3}",
                        bundle.getSymbolicName(), bundle.getVersion(), bundle.getLocation(), e.getMessage());
            }
        }
        return failed;
    }

    private static List<Path> jarsIn(Path directory) {
        if (!Files.isDirectory(directory)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(file -> file.getFileName().toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + directory, e);
        }
    }

    private Map<String, String> frameworkProperties(Path home) {
        Map<String, String> properties = new HashMap<>();
        properties.put(Constants.FRAMEWORK_STORAGE, home.resolve("data").resolve("felix-cache").toString());
        properties.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        properties.put("gantry.home", home.toString());
        if (!options.models().isEmpty()) {
            // The engine serves these when its configuration names no models.
            properties.put("gantry.models", String.join(",", options.models()));
        }
        // FileInstall watches both folders: jars in deploy/ become bundles, *.cfg in conf/ configurations.
        properties.put("felix.fileinstall.dir", home.resolve("deploy") + "," + home.resolve("conf"));
        properties.put("felix.fileinstall.poll", "1000");
        properties.put("felix.fileinstall.noInitialDelay", "true");
        properties.put("felix.fileinstall.bundles.new.start", "true");
        properties.put("felix.fileinstall.enableConfigSave", "false");
        properties.put("felix.fileinstall.log.default", "jul");
        properties.put("felix.fileinstall.log.level", "3");
        properties.put("ds.loglevel", "warn");
        properties.put("felix.log.level", "1");
        properties.put("gosh.args", options.shell() ? "" : "--nointeractive");
        // conf/framework.properties, if present, overrides any of these.
        Path overrides = home.resolve("conf").resolve("framework.properties");
        if (Files.isRegularFile(overrides)) {
            Properties file = new Properties();
            try (InputStream in = Files.newInputStream(overrides)) {
                file.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read " + overrides, e);
            }
            file.stringPropertyNames().forEach(name -> properties.put(name, file.getProperty(name)));
        }
        return properties;
    }

    private static void stopOnSignals(Framework framework) {
        Runnable stop = () -> {
            LOG.log(Level.INFO, "Stopping Gantry: stopping bundles in order");
            try {
                framework.stop();
                framework.waitForStop(STOP_TIMEOUT_MILLIS);
            } catch (BundleException e) {
                LOG.log(Level.ERROR, "Framework stop failed: " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        for (String signal : List.of("TERM", "INT")) {
            // The signal handler replaces the JVM's default one, so the main thread, not a shutdown hook,
            // sees the framework stop and exits with status 0.
            sun.misc.Signal.handle(new sun.misc.Signal(signal), received -> stop.run());
        }
    }

    private static void logFrameworkEvent(FrameworkEvent event) {
        if (event.getType() == FrameworkEvent.ERROR) {
            Bundle bundle = event.getBundle();
            LOG.log(Level.ERROR, "Framework error in {0}: {1}", bundle == null ? "?" : bundle.getSymbolicName(),
                    event.getThrowable() == null ? "" : event.getThrowable().getMessage());
        }
    }

    private static void logToFile(Path file) throws IOException {
        FileHandler handler = new FileHandler(file.toString(), true);
        handler.setFormatter(new SimpleFormatter());
        java.util.logging.Logger.getLogger("").addHandler(handler);
    }

    private static String version() {
        String version = Launcher.class.getPackage().getImplementationVersion();
        return version == null ? "(development)" : version;
    }
}
