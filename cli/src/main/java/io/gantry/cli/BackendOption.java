package io.gantry.cli;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.backend.cpu.CpuBackend;
import io.gantry.backend.cuda.CudaBackend;
import picocli.CommandLine.Option;

import java.util.Locale;

/**
 * The {@code --backend} option of every command that runs a model: the CPU backend (the default) or the CUDA backend
 * on GPU 0, made directly, outside the OSGi runtime.
 */
final class BackendOption {

    /** The backends a command can run on. */
    enum Kind {
        /** Vector API kernels on the host CPU. */
        CPU("in native memory, off the Java heap"),
        /** CUDA kernels on GPU 0; fails where CUDA cannot start. */
        CUDA("in GPU memory");

        private final String kvPoolPlace;

        Kind(String kvPoolPlace) {
            this.kvPoolPlace = kvPoolPlace;
        }

        /** @return the name on the command line and in reports */
        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Bytes of the copy bandwidth test: large enough that launch overhead does not count. */
    static final long COPY_TEST_BYTES = 256L << 20;
    /** Timed copies of the bandwidth test. */
    static final int COPY_TEST_REPEATS = 20;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "cpu",
            description = "cpu (Vector API kernels, default) or cuda (GPU 0; fails, saying why, where CUDA cannot "
                    + "start).")
    private Kind kind = Kind.CPU;

    /** @return the backend chosen */
    Kind kind() {
        return kind;
    }

    /** @return where the chosen backend keeps the KV pool, for reports */
    String kvPoolPlace() {
        return kind.kvPoolPlace;
    }

    /**
     * Starts the chosen backend.
     *
     * @param threads threads that compute, for the CPU backend
     * @return the backend, which the caller closes
     * @throws BackendUnavailableException where CUDA cannot start, with its one-line reason
     */
    Started start(int threads) {
        return switch (kind) {
            case CPU -> {
                CpuBackend cpu = new CpuBackend(threads, true);
                yield new Started(cpu, cpu::close);
            }
            case CUDA -> {
                CudaBackend cuda = startCuda();
                yield new Started(cuda, cuda::close);
            }
        };
    }

    private static CudaBackend startCuda() {
        try {
            return CudaBackend.start(0, false);
        } catch (IllegalStateException e) {
            throw new BackendUnavailableException(e.getMessage(), e);
        } catch (LinkageError e) {
            throw new BackendUnavailableException("CUDA backend unavailable: its classes or JCuda's are not on the "
                    + "class path (" + e + ")", e);
        }
    }

    /**
     * The device copy bandwidth where the backend can measure it.
     *
     * @param backend a backend this option started
     * @return bytes per second read plus written by a device-to-device copy, or -1 where the backend has no such test
     */
    static double copyBandwidth(DeviceBackend backend) {
        return backend instanceof CudaBackend cuda ? cuda.copyBandwidth(COPY_TEST_BYTES, COPY_TEST_REPEATS) : -1;
    }

    /**
     * A started backend and how to release it.
     *
     * @param device the backend
     * @param closer releases its memory and threads
     */
    record Started(DeviceBackend device, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }

        /** @return the same backend, with every operation timed by a {@link ProfilingBackend} around it */
        Started profiled() {
            return new Started(new ProfilingBackend(device), closer);
        }
    }

    /** The chosen backend cannot start on this machine; the message says why in one line. */
    static final class BackendUnavailableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BackendUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
