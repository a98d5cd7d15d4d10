package io.gantry.engine.synth;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Streams tensors into a {@link GgufWriter}: each tensor's rows are produced by a {@link RowSource} and encoded in
 * chunks on a pool of threads, a window of chunks at a time, and each window is written before the next is made.
 * Memory stays at one window however large the tensor, and the bytes do not depend on the number of threads.
 *
 * <p>One tensor at a time, as {@link GgufWriter#write} asks for them; close it after the write.
 */
final class ParallelTensorEncoder implements AutoCloseable {

    /** Values per chunk: enough to amortise a task, small enough to share a tensor between threads. */
    private static final int CHUNK_ELEMENTS = 1 << 16;
    private static final long WINDOW_BYTES = 32L << 20;

    private final ExecutorService pool;
    private final Arena arena = Arena.ofShared();
    private MemorySegment window;

    /** @param threads threads that encode, at least 1 */
    ParallelTensorEncoder(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("Need at least one thread, got " + threads);
        }
        this.pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().daemon().name("gantry-encode-", 0)
                .factory());
    }

    /**
     * @param type   the format to write, one of {@link TensorEncoding#ENCODABLE}
     * @param rows   the tensor's rows
     * @param cols   elements per row, a whole number of the format's blocks
     * @param source the values
     * @return the content to add to the writer
     */
    GgufWriter.TensorContent content(TensorType type, long rows, int cols, RowSource source) {
        if (!TensorEncoding.ENCODABLE.contains(type)) {
            throw new IllegalArgumentException("Gantry cannot encode " + type + " tensors");
        }
        return out -> write(type, rows, cols, source, out);
    }

    private void write(TensorType type, long rows, int cols, RowSource source, WritableByteChannel out)
            throws IOException {
        int rowsPerChunk = Math.max(1, CHUNK_ELEMENTS / cols);
        long rowBytes = type.bytesFor(cols);
        MemorySegment buffer = window(rowsPerChunk * rowBytes);
        List<Future<?>> chunks = new ArrayList<>();
        long row = 0;
        while (row < rows) {
            long filled = 0;
            chunks.clear();
            while (row < rows && filled + rowsPerChunk * rowBytes <= buffer.byteSize()) {
                int count = (int) Math.min(rowsPerChunk, rows - row);
                Consumer<float[]> fill = source.chunk(row, count);
                MemorySegment target = buffer.asSlice(filled, count * rowBytes);
                chunks.add(pool.submit(() -> {
                    float[] values = new float[count * cols];
                    fill.accept(values);
                    TensorEncoding.encode(type, values, 0, values.length, target, 0);
                }));
                filled += count * rowBytes;
                row += count;
            }
            awaitAll(chunks);
            ByteBuffer bytes = buffer.asSlice(0, filled).asByteBuffer();
            while (bytes.hasRemaining()) {
                out.write(bytes);
            }
        }
    }

    /** @return the window buffer, grown where one chunk needs more than the usual window */
    private MemorySegment window(long chunkBytes) {
        long size = Math.max(WINDOW_BYTES, chunkBytes);
        if (window == null || window.byteSize() < size) {
            window = arena.allocate(size, 64);
        }
        return window;
    }

    private static void awaitAll(List<Future<?>> chunks) throws IOException {
        try {
            for (Future<?> chunk : chunks) {
                chunk.get();
            }
        } catch (InterruptedException e) {
            chunks.forEach(chunk -> chunk.cancel(true));
            Thread.currentThread().interrupt();
            throw new IOException("Interrupted while encoding a tensor", e);
        } catch (ExecutionException e) {
            chunks.forEach(chunk -> chunk.cancel(true));
            switch (e.getCause()) {
                case RuntimeException runtime -> throw runtime;
                case Error error -> throw error;
                default -> throw new IOException(e.getCause());
            }
        }
    }

    /** Stops the threads, after the chunk each may still be encoding, and frees the window. */
    @Override
    public void close() {
        pool.shutdownNow();
        pool.close();
        arena.close();
    }
}
