package io.gantry.cli;

import io.gantry.api.backend.AttentionBatch;
import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.backend.DeviceBuffer;
import io.gantry.api.backend.DeviceWeight;
import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.KvPool;
import io.gantry.api.backend.KvPoolSpec;
import io.gantry.api.backend.RopeSpec;
import io.gantry.api.backend.TensorType;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A {@link DeviceBackend} that runs another's operations and times each one ({@code bench-model --profile}): where a
 * step's time goes, per operation and weight. Each operation is followed by {@link DeviceBackend#synchronize()}, so
 * that an asynchronous backend's work counts at the operation that queued it (which costs a GPU its overlap of
 * launches and computation: the profiled steps are slower than unprofiled ones). Setting up (uploads, buffers, the
 * KV pool) passes through untimed. Used from one thread, as the engine uses a backend.
 */
final class ProfilingBackend implements DeviceBackend {

    /** A layer's weights share a name but for the {@code blk.N.} prefix: one profile row serves every layer. */
    private static final String LAYER_PREFIX = "^blk\\.\\d+\\.";

    private final DeviceBackend device;
    private final Map<String, Operation> operations = new HashMap<>();

    /**
     * What the calls of one operation with one shape took.
     *
     * @param name  the operation, with its weight and rows
     * @param calls how many calls
     * @param nanos their time, synchronisation included
     * @param flops their floating-point operations where known (matmuls: two per weight and row), else 0
     * @param bytes the weight bytes they read where known (matmuls), else 0
     */
    record Operation(String name, long calls, long nanos, double flops, double bytes) {

        Operation plus(long callNanos, double callFlops, double callBytes) {
            return new Operation(name, calls + 1, nanos + callNanos, flops + callFlops, bytes + callBytes);
        }
    }

    ProfilingBackend(DeviceBackend device) {
        this.device = device;
    }

    /** Forgets what was timed so far. */
    void reset() {
        operations.clear();
    }

    /** @return what was timed since the last {@link #reset()} */
    Profile profile() {
        List<Operation> sorted = new ArrayList<>(operations.values());
        sorted.sort(Comparator.comparingLong(Operation::nanos).reversed().thenComparing(Operation::name));
        return new Profile(List.copyOf(sorted));
    }

    /**
     * What was timed over some work, the longest operation first.
     *
     * @param operations each operation with each shape
     */
    record Profile(List<Operation> operations) {

        /** @return the time of all operations */
        long nanos() {
            return operations.stream().mapToLong(Operation::nanos).sum();
        }

        /**
         * Prints the operations as a table of calls and milliseconds per unit of work (a run, a decode step).
         *
         * @param title what was profiled, and over how much work
         * @param units how many units of work the times add up over
         * @param unit  the unit's name
         * @param nanos the total time of the work, as measured around it: what no operation took shows as one row
         * @param out   where to print
         */
        void print(String title, long units, String unit, long nanos, PrintWriter out) {
            out.println();
            out.println("Profile of " + title + ": calls and ms per " + unit + ":");
            out.println("| operation | calls | ms | share | GFLOP/s | weights GB/s |");
            out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
            for (Operation operation : operations) {
                double seconds = operation.nanos() / 1e9;
                out.printf(Locale.ROOT, "| %s | %s | %.3f | %.1f%% | %s | %s |%n", operation.name(),
                        callsPer(operation.calls(), units), operation.nanos() / 1e6 / units,
                        100.0 * operation.nanos() / nanos,
                        operation.flops() > 0 ? String.format(Locale.ROOT, "%.1f", operation.flops() / seconds / 1e9)
                                : "",
                        operation.bytes() > 0 ? String.format(Locale.ROOT, "%.1f", operation.bytes() / seconds / 1e9)
                                : "");
            }
            long between = Math.max(0, nanos - nanos());
            out.printf(Locale.ROOT, "| between operations (host code: batching, sampling) | | %.3f | %.1f%% | | |%n",
                    between / 1e6 / units, 100.0 * between / nanos);
            out.flush();
        }

        /** @return calls per unit of work: a whole number when they divide evenly, as in a run of equal steps */
        private static String callsPer(long calls, long units) {
            return calls % units == 0 ? Long.toString(calls / units)
                    : String.format(Locale.ROOT, "%.2f", (double) calls / units);
        }
    }

    private void timed(String name, double flops, double bytes, Runnable operation) {
        long start = System.nanoTime();
        operation.run();
        device.synchronize();
        long nanos = System.nanoTime() - start;
        operations.merge(name, new Operation(name, 1, nanos, flops, bytes),
                (sum, call) -> sum.plus(call.nanos(), call.flops(), call.bytes()));
    }

    private static String rows(int rows) {
        return rows == 1 ? "1 row" : rows + " rows";
    }

    private static String weight(DeviceWeight weight) {
        return weight.name().replaceFirst(LAYER_PREFIX, "") + " [" + weight.rows() + "x" + weight.cols() + " "
                + weight.type() + "]";
    }

    @Override
    public String deviceId() {
        return device.deviceId();
    }

    @Override
    public String description() {
        return device.description();
    }

    @Override
    public Set<TensorType> supportedTypes() {
        return device.supportedTypes();
    }

    @Override
    public DeviceWeight upload(HostTensor tensor) {
        return device.upload(tensor);
    }

    @Override
    public DeviceBuffer allocate(int rows, int cols) {
        return device.allocate(rows, cols);
    }

    @Override
    public Set<TensorType> kvTypes() {
        return device.kvTypes();
    }

    @Override
    public KvPool allocateKvPool(KvPoolSpec spec) {
        return device.allocateKvPool(spec);
    }

    @Override
    public void embed(DeviceBuffer out, DeviceWeight table, int[] tokens, int rows) {
        timed("embed, " + rows(rows), 0, 0, () -> device.embed(out, table, tokens, rows));
    }

    @Override
    public void rmsNorm(DeviceBuffer out, DeviceBuffer in, DeviceWeight weight, float eps, int rows) {
        timed("rms_norm, " + rows(rows), 0, 0, () -> device.rmsNorm(out, in, weight, eps, rows));
    }

    @Override
    public void matmul(DeviceBuffer out, DeviceWeight weight, DeviceBuffer in, int rows) {
        timed("matmul " + weight(weight) + ", " + rows(rows), 2.0 * rows * weight.rows() * weight.cols(),
                weight.type().bytesFor((long) weight.rows() * weight.cols()),
                () -> device.matmul(out, weight, in, rows));
    }

    @Override
    public void addBias(DeviceBuffer out, DeviceWeight bias, int rows) {
        timed("add_bias, " + rows(rows), 0, 0, () -> device.addBias(out, bias, rows));
    }

    @Override
    public void rope(DeviceBuffer x, int heads, AttentionBatch batch, RopeSpec rope) {
        timed("rope, " + rows(batch.rows()), 0, 0, () -> device.rope(x, heads, batch, rope));
    }

    @Override
    public void storeKv(KvPool pool, int layer, DeviceBuffer k, DeviceBuffer v, AttentionBatch batch) {
        timed("store_kv, " + rows(batch.rows()), 0, 0, () -> device.storeKv(pool, layer, k, v, batch));
    }

    @Override
    public void attention(DeviceBuffer out, DeviceBuffer q, int heads, KvPool pool, int layer, AttentionBatch batch) {
        timed("attention, " + rows(batch.rows()) + " of " + batch.sequences()
                + (batch.sequences() == 1 ? " sequence" : " sequences"), 0, 0,
                () -> device.attention(out, q, heads, pool, layer, batch));
    }

    @Override
    public void swiglu(DeviceBuffer out, DeviceBuffer gate, DeviceBuffer up, int rows) {
        timed("swiglu, " + rows(rows), 0, 0, () -> device.swiglu(out, gate, up, rows));
    }

    @Override
    public void add(DeviceBuffer acc, DeviceBuffer in, int rows) {
        timed("add, " + rows(rows), 0, 0, () -> device.add(acc, in, rows));
    }

    @Override
    public void gatherRows(DeviceBuffer out, DeviceBuffer in, int[] sourceRows, int count) {
        timed("gather_rows, " + rows(count), 0, 0, () -> device.gatherRows(out, in, sourceRows, count));
    }

    @Override
    public void read(DeviceBuffer in, int rows, float[] destination) {
        timed("read, " + rows(rows), 0, 0, () -> device.read(in, rows, destination));
    }

    @Override
    public void synchronize() {
        device.synchronize();
    }

    @Override
    public String toString() {
        return "profiled " + device;
    }
}
