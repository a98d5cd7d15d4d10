package io.gantry.benchmarks;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code matmul} of the CPU backend through the plugin API, for each weight format and batch size: 1 row is a
 * decode step, 4 and 16 rows batched decoding, 128 rows a prompt's prefill. Besides matmuls per second, JMH
 * reports the secondary result {@code gflops}: GFLOP/s over all {@code threads} (2 flops per weight and row).
 *
 * <p>The weights are random but well formed: finite values and block scales of the size trained models have,
 * so no kernel meets infinities, NaNs or subnormal numbers that real weights do not hold.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MatmulBenchmark {

    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Typical of trained models' weights. */
    private static final double STANDARD_DEVIATION = 0.02;
    /** A block scale for weights of {@link #STANDARD_DEVIATION}: about the largest weight over the largest value. */
    private static final float SCALE = 0.001f;

    /** The weight's format. */
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public TensorType type;

    /** Batch rows multiplied in one call. */
    @Param({"1", "4", "16", "128"})
    public int rows;

    /** Output rows of the weight (TinyLlama's attention projections: 2048). */
    @Param("2048")
    public int outputs;

    /** Columns of the weight: elements of each input row. */
    @Param("2048")
    public int inputs;

    /** Threads the backend computes with, the caller's included. */
    @Param("1")
    public int threads;

    /**
     * Copies of the weight, multiplied in turn: with one, a small weight stays in the CPU's caches and this measures
     * the kernels; with as many as a model has layers, each call reads its weight from memory, as in a decode step.
     */
    @Param("1")
    public int copies;

    private Arena arena;
    private CpuBackend backend;
    private DeviceWeight[] weights;
    private int next;
    private DeviceBuffer in;
    private DeviceBuffer out;

    /** GFLOP done, which JMH turns into GFLOP/s. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        /** GFLOP done in this iteration. */
        public double gflops;

        /** Starts each iteration's count at zero. */
        @Setup(Level.Iteration)
        public void reset() {
            gflops = 0;
        }
    }

    /** Uploads a random weight and fills the input rows through {@code embed}. */
    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        backend = new CpuBackend(threads, true);
        Random random = new Random(42);
        MemorySegment data = randomWeights(type, outputs, inputs, random);
        weights = new DeviceWeight[copies];
        for (int c = 0; c < copies; c++) {
            // Copied in memory too: formats the backend does not repack are multiplied where they lie.
            MemorySegment copy = c == 0 ? data : arena.allocate(data.byteSize(), 64).copyFrom(data);
            weights[c] = backend.upload(new HostTensor("weight", type, outputs, inputs, copy));
        }
        // The API writes activations only through operations: embed rows of a random table.
        DeviceWeight table = backend.upload(new HostTensor("table", TensorType.F32, rows, inputs,
                randomWeights(TensorType.F32, rows, inputs, random)));
        in = backend.allocate(rows, inputs);
        out = backend.allocate(rows, outputs);
        backend.embed(in, table, IntStream.range(0, rows).toArray(), rows);
        table.release();
    }

    /** Frees the backend and the weight's memory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }

    /** One {@code matmul} of {@link #rows} rows, by the next copy of the weight. */
    @Benchmark
    public void matmul(Flops flops) {
        next = (next + 1) % copies;
        backend.matmul(out, weights[next], in, rows);
        backend.synchronize();
        flops.gflops += 2e-9 * rows * outputs * inputs;
    }

    /** @return {@code rows x cols} random weights of {@code type}, laid out as in a GGUF file */
    private MemorySegment randomWeights(TensorType type, int rows, int cols, Random random) {
        long count = (long) rows * cols;
        MemorySegment data = arena.allocate(type.bytesFor(count), 64);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < count; i++) {
                    data.setAtIndex(FLOAT_LE, i, weight(random));
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    data.setAtIndex(SHORT_LE, i, Float.floatToFloat16(weight(random)));
                }
            }
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    data.setAtIndex(SHORT_LE, i, (short) (Float.floatToRawIntBits(weight(random)) >>> 16));
                }
            }
            default -> {
                // Random quantized values, then in each block the F16 scales set to what a weight of the size
                // above needs: the scales are the only parts of a block that random bytes can make non-finite.
                byte[] bytes = new byte[(int) data.byteSize()];
                random.nextBytes(bytes);
                MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
                for (long block = 0; block < data.byteSize(); block += type.blockBytes()) {
                    for (int scale : scaleOffsets(type)) {
                        data.set(SHORT_LE, block + scale, Float.floatToFloat16(SCALE * (1 + random.nextFloat())));
                    }
                }
            }
        }
        return data;
    }

    /** @return the byte offsets of the F16 scales in a block of a quantized format */
    private static int[] scaleOffsets(TensorType type) {
        return switch (type) {
            case Q8_0, Q4_0 -> new int[] {0};
            case Q4_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            default -> throw new IllegalArgumentException(type + " has no block scales");
        };
    }

    private static float weight(Random random) {
        return (float) (random.nextGaussian() * STANDARD_DEVIATION);
    }
}
