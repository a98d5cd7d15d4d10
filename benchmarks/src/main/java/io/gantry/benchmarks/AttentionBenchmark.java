package io.gantry.benchmarks;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.TensorType;
import io.gantry.backend.cpu.CpuBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
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
 * {@code attention} of the CPU backend through the plugin API: one decode step of {@link #sequences} sequences, each
 * attending over {@link #context} positions of one layer of the KV pool (head size 64, blocks of 16 slots, each
 * sequence's blocks consecutive). Each call takes the next of {@link #layers} layers: with one layer, the pool stays in
 * the CPU's caches and this measures the kernels; with as many layers as a model has, each call reads its keys and
 * values from memory, as a model's decode step does.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AttentionBenchmark {

    private static final int HEAD_DIM = 64;
    private static final int BLOCK_SIZE = 16;

    /** Sequences decoding together: one row each. */
    @Param({"1", "16"})
    public int sequences;

    /** Positions each sequence attends to, its new one included. */
    @Param("144")
    public int context;

    /** Query heads / KV heads: bench-110m's 12/12, bench-1b's 32/8. */
    @Param({"12/12", "32/8"})
    public String heads;

    /** Threads the backend computes with, the caller's included. */
    @Param({"1", "2"})
    public int threads;

    /** Layers of the pool, taken in turn. */
    @Param("1")
    public int layers;

    /** The pool's element type: F32 or F16. */
    @Param({"F32", "F16"})
    public TensorType kvType;

    private CpuBackend backend;
    private KvPool pool;
    private DeviceBuffer queries;
    private DeviceBuffer out;
    private AttentionBatch step;
    private int queryHeads;
    private int layer;

    /** Fills a pool with random keys and values for every sequence's positions. */
    @Setup(Level.Trial)
    public void setUp() {
        String[] counts = heads.split("/");
        queryHeads = Integer.parseInt(counts[0]);
        int kvHeads = Integer.parseInt(counts[1]);
        int blocksPerSequence = Math.ceilDiv(context, BLOCK_SIZE);
        backend = new CpuBackend(threads, true);
        pool = backend.allocateKvPool(new KvPoolSpec(layers, kvHeads, HEAD_DIM,
                sequences * blocksPerSequence * BLOCK_SIZE, kvType));
        int[][] tables = new int[sequences][];
        for (int s = 0; s < sequences; s++) {
            int first = s * blocksPerSequence;
            tables[s] = IntStream.range(first, first + blocksPerSequence).toArray();
        }
        Random random = new Random(7);
        int[] contexts = new int[sequences];
        Arrays.fill(contexts, context);
        int[] historyFirstRows = IntStream.range(0, sequences).map(s -> s * context).toArray();
        DeviceBuffer keys = randomRows(sequences * context, kvHeads * HEAD_DIM, random);
        DeviceBuffer values = randomRows(sequences * context, kvHeads * HEAD_DIM, random);
        AttentionBatch history = new AttentionBatch(sequences, historyFirstRows, contexts, new int[sequences], tables,
                BLOCK_SIZE);
        for (int l = 0; l < layers; l++) {
            backend.storeKv(pool, l, keys, values, history);
        }
        queries = randomRows(sequences, queryHeads * HEAD_DIM, random);
        out = backend.allocate(sequences, queryHeads * HEAD_DIM);
        int[] ones = new int[sequences];
        Arrays.fill(ones, 1);
        int[] lastPositions = new int[sequences];
        Arrays.fill(lastPositions, context - 1);
        step = new AttentionBatch(sequences, IntStream.range(0, sequences).toArray(), ones, lastPositions, tables,
                BLOCK_SIZE);
    }

    /** Frees the pool and the backend. */
    @TearDown(Level.Trial)
    public void tearDown() {
        pool.release();
        backend.close();
    }

    /** One decode step's attention in one layer, every sequence's row and every query head. */
    @Benchmark
    public void attention() {
        layer = (layer + 1) % layers;
        backend.attention(out, queries, queryHeads, pool, layer, step);
        backend.synchronize();
    }

    /** @return {@code rows} rows of random values, written through {@code embed} (the API's way to fill a buffer) */
    private DeviceBuffer randomRows(int rows, int cols, Random random) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(4L * rows * cols, 4);
            for (long i = 0; i < (long) rows * cols; i++) {
                data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) random.nextGaussian());
            }
            DeviceWeight table = backend.upload(new HostTensor("rows", TensorType.F32, rows, cols, data));
            DeviceBuffer buffer = backend.allocate(rows, cols);
            backend.embed(buffer, table, IntStream.range(0, rows).toArray(), rows);
            table.release();
            return buffer;
        }
    }
}
