package io.gantry.backend.cuda;

/** Why the CUDA backend cannot start on this machine, in one line fit for the log. */
final class CudaUnavailableException extends Exception {

    private static final long serialVersionUID = 1L;

    CudaUnavailableException(String reason) {
        super(reason);
    }

    CudaUnavailableException(String reason, Throwable cause) {
        super(reason + ": " + firstLine(cause), cause);
    }

    /**
     * JCuda's loader errors run over many lines (every attempt's stack trace); the line that names a missing
     * shared object is the one that says why.
     *
     * @return the informative line of {@code problem}'s message
     */
    static String firstLine(Throwable problem) {
        String message = String.valueOf(problem.getMessage());
        for (String line : message.split("\\R")) {
            if (line.contains("cannot open shared object file") || line.contains("undefined symbol")) {
                return line.trim();
            }
        }
        String first = message.split("\\R", 2)[0].trim();
        return problem.getClass().getSimpleName() + (first.isEmpty() || first.equals("null") ? "" : " " + first);
    }
}
