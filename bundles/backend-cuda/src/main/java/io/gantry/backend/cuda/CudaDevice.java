package io.gantry.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device driven through the driver API only (context, memory, modules, launches): GPU nodes may run a
 * CUDA newer than JCuda's runtime and library bindings, while the driver API is stable across versions.
 *
 * <p>Every driver call throws on failure ({@code JCudaDriver.setExceptionsEnabled(true)}). Work is queued on
 * the legacy default stream, so kernels, copies and frees run in call order. The device's primary context is
 * made current on the calling thread by {@link #makeCurrent()}, which every operation calls first.
 */
final class CudaDevice implements AutoCloseable {

    /** The PTX module (one per {@code src/main/cuda/*.cu}) every kernel lives in. */
    static final String MODULE = "gantry_kernels";
    /** The PTX variants built, newest first: Hopper's, then one the driver JIT-compiles for older cards. */
    static final List<Integer> PTX_ARCHITECTURES = List.of(90, 75);
    private static final String DRIVER_LIBRARY = "libcuda.so.1";

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final String name;
    private final long totalBytes;
    private final int computeCapability;
    private final int ptxArchitecture;
    private boolean closed;

    private CudaDevice(int ordinal, CUdevice device, CUcontext context, CUmodule module, String name,
            long totalBytes, int computeCapability, int ptxArchitecture) {
        this.ordinal = ordinal;
        this.device = device;
        this.context = context;
        this.module = module;
        this.name = name;
        this.totalBytes = totalBytes;
        this.computeCapability = computeCapability;
        this.ptxArchitecture = ptxArchitecture;
    }

    /**
     * Starts CUDA on a device and loads the kernels.
     *
     * @param ordinal the device's index
     * @return the open device
     * @throws CudaUnavailableException with a one-line reason if there is no driver, no device, no PTX or the
     *                                  kernels do not load
     */
    static CudaDevice open(int ordinal) throws CudaUnavailableException {
        Map<Integer, String> ptx = loadPtx();
        requireDriverLibrary();
        try {
            JCudaDriver.setExceptionsEnabled(true);
        } catch (LinkageError e) {
            throw new CudaUnavailableException("JCuda's driver binding did not load", e);
        }
        CUcontext context = null;
        CUdevice device = new CUdevice();
        try {
            JCudaDriver.cuInit(0);
            int[] count = new int[1];
            JCudaDriver.cuDeviceGetCount(count);
            if (ordinal < 0 || ordinal >= count[0]) {
                throw new CudaUnavailableException("no CUDA device " + ordinal + " (" + count[0] + " found)");
            }
            JCudaDriver.cuDeviceGet(device, ordinal);
            int major = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
            int minor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            int capability = major * 10 + minor;
            int architecture = PTX_ARCHITECTURES.stream().filter(a -> a <= capability).findFirst()
                    .orElseThrow(() -> new CudaUnavailableException("device " + ordinal + " has compute capability "
                            + major + "." + minor + "; the kernels need 7.5 or newer"));
            byte[] nameBytes = new byte[256];
            JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, device);
            long[] total = new long[1];
            JCudaDriver.cuDeviceTotalMem(total, device);
            context = new CUcontext();
            JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
            JCudaDriver.cuCtxSetCurrent(context);
            CUmodule module = new CUmodule();
            JCudaDriver.cuModuleLoadData(module, ptx.get(architecture));
            CudaDevice opened = new CudaDevice(ordinal, device, context, module, cString(nameBytes), total[0],
                    capability, architecture);
            for (Kernel kernel : Kernel.all()) {
                CUfunction function = new CUfunction();
                JCudaDriver.cuModuleGetFunction(function, module, kernel.name());
                opened.functions.put(kernel.name(), function);
            }
            return opened;
        } catch (CudaException | LinkageError e) {
            if (context != null) {
                releaseQuietly(device);
            }
            throw new CudaUnavailableException("CUDA did not start on device " + ordinal, e);
        }
    }

    /** @return the PTX text of each built architecture, read from this bundle */
    static Map<Integer, String> loadPtx() throws CudaUnavailableException {
        Map<Integer, String> ptx = new HashMap<>();
        for (int architecture : PTX_ARCHITECTURES) {
            String resource = ptxResource(architecture);
            try (InputStream in = CudaDevice.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new CudaUnavailableException("the bundle holds no PTX kernels (" + resource
                            + "): it was built where nvcc was not found");
                }
                ptx.put(architecture, new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            } catch (IOException e) {
                throw new CudaUnavailableException("could not read " + resource, e);
            }
        }
        return ptx;
    }

    /** @return the class-path resource of the PTX for {@code architecture}, e.g. {@code /ptx/gantry_kernels.compute_90.ptx} */
    static String ptxResource(int architecture) {
        return "/ptx/" + MODULE + ".compute_" + architecture + ".ptx";
    }

    /** Fails with a short reason where the NVIDIA driver is not installed, before JCuda tries (noisily) to link it. */
    static void requireDriverLibrary() throws CudaUnavailableException {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(DRIVER_LIBRARY, arena);
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException("no NVIDIA driver: " + DRIVER_LIBRARY + " was not found");
        } catch (IllegalCallerException e) {
            throw new CudaUnavailableException("native access is disabled; start the JVM with --enable-native-access");
        }
    }

    /** Makes this device's context current on the calling thread. */
    void makeCurrent() {
        JCudaDriver.cuCtxSetCurrent(context);
    }

    /**
     * @return {@code bytes} of device memory, not initialised
     * @throws OutOfMemoryError if the device cannot hold them
     */
    CUdeviceptr allocate(long bytes, String what) {
        CUdeviceptr pointer = new CUdeviceptr();
        try {
            JCudaDriver.cuMemAlloc(pointer, Math.max(1, bytes));
        } catch (CudaException e) {
            if (e.getMessage() != null && e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY")) {
                throw new OutOfMemoryError("CUDA device " + ordinal + " cannot hold " + what + " (" + bytes
                        + " bytes; " + freeBytes() + " free)");
            }
            throw e;
        }
        return pointer;
    }

    void free(CUdeviceptr pointer) {
        JCudaDriver.cuMemFree(pointer);
    }

    void zero(CUdeviceptr pointer, long bytes) {
        JCudaDriver.cuMemsetD8(pointer, (byte) 0, bytes);
    }

    /** Copies host memory to the device; waits for queued work first (a synchronous copy on the default stream). */
    void copyToDevice(CUdeviceptr to, long offset, MemorySegment from) {
        long chunk = 1L << 30;
        for (long done = 0; done < from.byteSize(); done += chunk) {
            long length = Math.min(chunk, from.byteSize() - done);
            JCudaDriver.cuMemcpyHtoD(to.withByteOffset(offset + done),
                    Pointer.to(from.asSlice(done, length).asByteBuffer()), length);
        }
    }

    void copyToDevice(CUdeviceptr to, int[] from, int count) {
        JCudaDriver.cuMemcpyHtoD(to, Pointer.to(from), 4L * count);
    }

    void copyToDevice(CUdeviceptr to, double[] from) {
        JCudaDriver.cuMemcpyHtoD(to, Pointer.to(from), 8L * from.length);
    }

    void copyToDevice(CUdeviceptr to, float[] from, int count) {
        JCudaDriver.cuMemcpyHtoD(to, Pointer.to(from), 4L * count);
    }

    /** Copies device memory to the host after queued work has finished. */
    void copyToHost(float[] to, CUdeviceptr from, int count) {
        JCudaDriver.cuMemcpyDtoH(Pointer.to(to), from, 4L * count);
    }

    void copyOnDevice(CUdeviceptr to, CUdeviceptr from, long bytes) {
        JCudaDriver.cuMemcpyDtoD(to, from, bytes);
    }

    /** Queues a kernel on the default stream. */
    void launch(Kernel kernel, LaunchGeometry geometry, KernelArgs args) {
        CUfunction function = functions.get(kernel.name());
        if (function == null) {
            throw new IllegalStateException("Kernel " + kernel.name() + " is not loaded");
        }
        JCudaDriver.cuLaunchKernel(function, geometry.gridX(), geometry.gridY(), 1, geometry.blockX(), 1, 1, 0,
                (CUstream) null, args.pointer(), null);
    }

    /** Waits for every queued operation; reports the first asynchronous failure of any of them. */
    void synchronize() {
        JCudaDriver.cuCtxSynchronize();
    }

    /** @return free device memory in bytes */
    long freeBytes() {
        long[] free = new long[1];
        long[] total = new long[1];
        JCudaDriver.cuMemGetInfo(free, total);
        return free[0];
    }

    String name() {
        return name;
    }

    long totalBytes() {
        return totalBytes;
    }

    int ordinal() {
        return ordinal;
    }

    /** @return e.g. {@code 9.0} */
    String computeCapability() {
        return computeCapability / 10 + "." + computeCapability % 10;
    }

    int ptxArchitecture() {
        return ptxArchitecture;
    }

    /** Unloads the kernels and releases the context; the caller has freed its memory. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            makeCurrent();
            JCudaDriver.cuCtxSynchronize();
            JCudaDriver.cuModuleUnload(module);
        } finally {
            releaseQuietly(device);
        }
    }

    private static void releaseQuietly(CUdevice device) {
        try {
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
        } catch (CudaException e) {
            System.getLogger(CudaDevice.class.getName()).log(System.Logger.Level.WARNING,
                    "Releasing the CUDA context failed: " + e.getMessage());
        }
    }

    private static int attribute(CUdevice device, int attribute) {
        int[] value = new int[1];
        JCudaDriver.cuDeviceGetAttribute(value, attribute, device);
        return value[0];
    }

    private static String cString(byte[] bytes) {
        int length = 0;
        while (length < bytes.length && bytes[length] != 0) {
            length++;
        }
        return new String(bytes, 0, length, StandardCharsets.US_ASCII);
    }
}
