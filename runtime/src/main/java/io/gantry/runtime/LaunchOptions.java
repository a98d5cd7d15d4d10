package io.gantry.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The launcher's command line.
 *
 * @param home   the Gantry home: holds bundle/, deploy/, conf/, logs/ and data/
 * @param shell  whether to start the Gogo shell on the console
 * @param help   whether to print usage and exit
 * @param models the models named with {@code --model}, each an absolute {@code PATH} or {@code ID=PATH}
 */
record LaunchOptions(Path home, boolean shell, boolean help, List<String> models) {

    static final String USAGE = """
            Usage: gantry [options]
              --home DIR   Gantry home with bundle/, deploy/, conf/ (default: the distribution's folder)
              --shell      start the Gogo shell on this console (try: gantry:plugins, lb, scr:list)
              --model FILE serve this GGUF file (repeatable; ID=FILE names it) instead of models/*.gguf,
                           unless conf/io.gantry.engine.cfg sets models
              --help       print this help and exit
            Drop plugin bundles into deploy/ and *.cfg files into conf/ while Gantry runs.
            Command-line tools (each with --help):
              gantry generate | bench-model | bench serve | bench compare | model synth | model quantize""";

    /**
     * @param args        the command line
     * @param defaultHome the home to use without {@code --home}
     * @return the parsed options
     * @throws IllegalArgumentException with a message for the user if an argument is unknown, a value is
     *         missing, or the home is not a Gantry home
     */
    static LaunchOptions parse(List<String> args, Path defaultHome) {
        Path home = defaultHome;
        boolean shell = false;
        boolean help = false;
        List<String> models = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            switch (arg) {
                case "--home" -> {
                    if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
                        throw new IllegalArgumentException("--home needs a directory");
                    }
                    home = Path.of(args.get(++i));
                }
                case "--model" -> {
                    if (i + 1 >= args.size() || args.get(i + 1).startsWith("--")) {
                        throw new IllegalArgumentException("--model needs a GGUF file (or ID=FILE)");
                    }
                    models.add(model(args.get(++i)));
                }
                case "--shell" -> shell = true;
                case "--help", "-h" -> help = true;
                default -> throw new IllegalArgumentException("Unknown option '" + arg + "'");
            }
        }
        home = home.toAbsolutePath().normalize();
        if (!help && !Files.isDirectory(home.resolve("bundle"))) {
            throw new IllegalArgumentException("'" + home + "' is not a Gantry home: it has no bundle/ directory");
        }
        return new LaunchOptions(home, shell, help, List.copyOf(models));
    }

    /** @return {@code [ID=]FILE} with the file made absolute, since the engine does not run in this folder */
    private static String model(String value) {
        int equals = value.indexOf('=');
        String file = equals > 0 ? value.substring(equals + 1) : value;
        if (file.isBlank() || file.contains(",")) {
            throw new IllegalArgumentException("--model needs a GGUF file (or ID=FILE) without commas, got '" + value
                    + "'");
        }
        Path path = Path.of(file).toAbsolutePath().normalize();
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("--model " + path + ": no such file");
        }
        return (equals > 0 ? value.substring(0, equals) + "=" : "") + path;
    }
}
