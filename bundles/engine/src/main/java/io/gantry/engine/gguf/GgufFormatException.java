package io.gantry.engine.gguf;

/**
 * A GGUF file that cannot be used: truncated, corrupted, of an unsupported version or type, or lacking
 * something the caller asked for. The message always starts with the file it is about, then says what
 * is wrong and, where it helps, at which byte.
 *
 * <p>Unchecked, because a bad model file is a configuration problem that callers report rather than
 * recover from; I/O failures (a missing or unreadable file) stay {@link java.io.IOException}s.
 */
public final class GgufFormatException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * @param file the file, as the user named it
     * @param problem what is wrong with it
     */
    public GgufFormatException(String file, String problem) {
        super(file + ": " + problem);
    }

    /**
     * @param file the file, as the user named it
     * @param problem what is wrong with it
     * @param cause the exception that revealed the problem
     */
    public GgufFormatException(String file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
