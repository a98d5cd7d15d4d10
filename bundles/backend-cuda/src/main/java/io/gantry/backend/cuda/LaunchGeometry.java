package io.gantry.backend.cuda;

import io.gantry.api.backend.TensorType;
import java.util.ArrayList;
import java.util.List;

/**
 * Grid and block shapes of every kernel launch, and how a matrix product is split into launches. Pure
 * arithmetic, kept apart from the driver calls so that it can be tested without a GPU.
 *
 * @param gridX  blocks along x
 * @param gridY  blocks along y
 * @param blockX threads per block
 */
record LaunchGeometry(int gridX, int gridY, int blockX) {

    /** Output rows (warps) per matrix-vector block: the kernels' {@code GEMV_WARPS}. */
    static final int GEMV_WARPS = 4;
    /** Output tile edge of the tensor-core kernels: their {@code TILE}; 4 warps of 32 threads each. */
    static final int MMA_TILE = 64;
    /** Above this many input rows a product runs on tensor cores (where the format has a tensor-core kernel). */
    static final int GEMV_MAX_ROWS = 8;
    /** Warps of the attention kernel: its {@code ATTENTION_WARPS}. */
    static final int ATTENTION_THREADS = 8 * 32;
    private static final int ELEMENTWISE_THREADS = 256;
    private static final int ELEMENTWISE_MAX_BLOCKS = 8192;
    private static final int ROW_THREADS = 256;
    /** CUDA's limit on gridDim.y. */
    private static final int MAX_GRID_Y = 65535;

    /**
     * One launch of a matrix product over a slice of the input rows.
     *
     * @param kernel   the kernel
     * @param firstRow the first input (and output) row it covers
     * @param rows     rows it covers
     * @param geometry its launch shape
     */
    record MatmulLaunch(Kernel kernel, int firstRow, int rows, LaunchGeometry geometry) {
    }

    /**
     * @return the launches that compute {@code rows} rows of {@code out = W · in} for a weight of {@code outs}
     *         rows: one matrix-vector launch for up to {@link #GEMV_MAX_ROWS} rows, tensor-core launches above
     *         that, and for F32 weights (no tensor-core kernel) matrix-vector launches of 8 rows each
     */
    static List<MatmulLaunch> matmul(TensorType type, int rows, int outs) {
        List<MatmulLaunch> launches = new ArrayList<>();
        if (rows > GEMV_MAX_ROWS && Kernel.hasTensorCoreKernel(type)) {
            int maxRowsPerLaunch = MAX_GRID_Y * MMA_TILE;
            for (int first = 0; first < rows; first += maxRowsPerLaunch) {
                int count = Math.min(maxRowsPerLaunch, rows - first);
                launches.add(new MatmulLaunch(Kernel.mma(type), first, count,
                        new LaunchGeometry(ceilDiv(outs, MMA_TILE), ceilDiv(count, MMA_TILE), 4 * 32)));
            }
            return launches;
        }
        LaunchGeometry gemv = new LaunchGeometry(ceilDiv(outs, GEMV_WARPS), 1, GEMV_WARPS * 32);
        for (int first = 0; first < rows; first += GEMV_MAX_ROWS) {
            int count = Math.min(GEMV_MAX_ROWS, rows - first);
            launches.add(new MatmulLaunch(Kernel.gemv(type, gemvVariant(count)), first, count, gemv));
        }
        return launches;
    }

    /** @return the smallest compiled matrix-vector variant that holds {@code rows} rows */
    static int gemvVariant(int rows) {
        for (int variant : Kernel.GEMV_ROWS) {
            if (variant >= rows) {
                return variant;
            }
        }
        throw new IllegalArgumentException(rows + " rows exceed the matrix-vector kernels' " + GEMV_MAX_ROWS);
    }

    /** @return a grid-stride launch over {@code count} elements */
    static LaunchGeometry elementwise(long count) {
        long blocks = Math.max(1, Math.min(ELEMENTWISE_MAX_BLOCKS, (count + ELEMENTWISE_THREADS - 1) / ELEMENTWISE_THREADS));
        return new LaunchGeometry((int) blocks, 1, ELEMENTWISE_THREADS);
    }

    /** @return one block per row (rms_norm, rope, store_kv, embed, gather_rows) */
    static LaunchGeometry perRow(int rows) {
        return new LaunchGeometry(rows, 1, ROW_THREADS);
    }

    /** @return one block per (row, query head) */
    static LaunchGeometry attention(int rows, int heads) {
        if (heads > MAX_GRID_Y) {
            throw new IllegalArgumentException(heads + " heads exceed the attention kernel's grid limit");
        }
        return new LaunchGeometry(rows, heads, ATTENTION_THREADS);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
