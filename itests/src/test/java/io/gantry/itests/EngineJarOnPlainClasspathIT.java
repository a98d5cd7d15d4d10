package io.gantry.itests;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.Test;

/**
 * The engine jar of the distribution carries the libraries it uses (the chat templates' Jinjava and what that
 * needs), so command-line tools run it on a plain classpath: here it is the engine jar and the plugin API jar, and
 * nothing else but the JDK.
 */
public class EngineJarOnPlainClasspathIT {

    @Test
    public void theEngineJarRendersChatTemplatesWithNothingElseOnTheClasspath() throws Exception {
        Path bundles = Path.of(System.getProperty("gantry.distribution")).resolve("bundle");
        URL[] jars = {jar(bundles, "gantry-engine-").toUri().toURL(), jar(bundles, "gantry-plugin-api-").toUri().toURL()};
        try (URLClassLoader plain = new URLClassLoader(jars, ClassLoader.getPlatformClassLoader())) {
            ChatTemplateProbe.renders(name -> Class.forName(name, true, plain));
        }
    }

    private static Path jar(Path folder, String prefix) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(file -> file.getFileName().toString().startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no " + prefix + "*.jar in " + folder));
        }
    }
}
