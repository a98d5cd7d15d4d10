package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;

/** Where there is no NVIDIA driver, CUDA fails cleanly: a catchable error, one log line, no service. */
class CudaUnavailableTest {

    private static void assumeNoDriver() {
        try {
            CudaDevice.requireDriverLibrary();
            Assumptions.abort("An NVIDIA driver is installed here; the no-driver path cannot be observed");
        } catch (CudaUnavailableException expected) {
            // the situation under test
        }
    }

    @Test
    void openingReportsTheMissingDriverInOneLine() {
        assumeNoDriver();
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaBackend.open(0, false));
        assertTrue(e.getMessage().contains("libcuda.so.1"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        IllegalStateException wrapped = assertThrows(IllegalStateException.class, () -> CudaBackend.start(0, false));
        assertTrue(wrapped.getMessage().startsWith("CUDA backend unavailable: "), wrapped.getMessage());
    }

    @Test
    void theComponentLogsOneLineAndRegistersNothing() {
        assumeNoDriver();
        Logger logger = Logger.getLogger(CudaBackendComponent.class.getName());
        List<LogRecord> records = new ArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try {
            BundleContext context = (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {BundleContext.class}, (proxy, method, args) -> {
                        throw new AssertionError("The component must not touch the framework: " + method.getName());
                    });
            CudaBackendComponent component = new CudaBackendComponent();
            component.activate(context, defaults());
            component.deactivate();
        } finally {
            logger.removeHandler(capture);
        }
        assertEquals(1, records.size(), () -> "log records: " + records.stream().map(LogRecord::getMessage).toList());
        LogRecord record = records.getFirst();
        assertEquals(Level.WARNING, record.getLevel());
        String line = java.text.MessageFormat.format(record.getMessage(), record.getParameters());
        assertTrue(line.startsWith("CUDA backend unavailable, not registered"), line);
        assertTrue(line.contains("libcuda.so.1"), line);
        assertFalse(line.contains("\n"), line);
    }

    /**
     * JCuda itself, loaded as the library bundle loads it (its own class loader, the JNI library extracted from
     * that loader's resources), fails with a catchable {@link LinkageError} whose informative line names the
     * missing driver.
     */
    @Test
    void jcudaLoadedFromItsOwnClassLoaderFailsCatchably() throws Exception {
        assumeNoDriver();
        URL jcuda = jcuda.driver.JCudaDriver.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jcuda}, ClassLoader.getPlatformClassLoader())) {
            assertTrue(loader.getResource("lib/libJCudaDriver-12.0.0-linux-x86_64.so") != null,
                    "the library bundle carries the driver binding's JNI library");
            Class<?> driver = Class.forName("jcuda.driver.JCudaDriver", false, loader);
            // The class initialiser's UnsatisfiedLinkError reaches the caller as it is.
            LinkageError failure = assertThrows(LinkageError.class,
                    () -> driver.getMethod("setExceptionsEnabled", boolean.class).invoke(null, true));
            assertTrue(CudaUnavailableException.firstLine(failure).contains("libcuda.so.1"),
                    CudaUnavailableException.firstLine(failure));
        }
    }

    private static CudaBackendComponent.Config defaults() {
        return (CudaBackendComponent.Config) Proxy.newProxyInstance(CudaBackendComponent.Config.class.getClassLoader(),
                new Class<?>[] {CudaBackendComponent.Config.class}, (proxy, method, args) -> {
                    if (method.getName().equals("annotationType")) {
                        return CudaBackendComponent.Config.class;
                    }
                    return method.getDefaultValue();
                });
    }

}
