package io.gantry.backend.cuda;

import io.gantry.api.backend.TensorType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Every kernel entry point of {@code gantry_kernels.cu} with its parameter list, as the host packs it. The build
 * test checks this table against the {@code .entry} declarations of the packaged PTX, so a kernel and its
 * launcher cannot drift apart silently.
 *
 * @param name   the extern "C" entry name
 * @param params its parameters in order
 */
record Kernel(String name, List<Param> params) {

    /** A kernel parameter's kind, with the PTX type nvcc declares for it on a 64-bit host. */
    enum Param {
        /** A device address. */
        POINTER("u64"),
        /** A C {@code int}. */
        INT("u32"),
        /** A C {@code long} (64 bits on Linux). */
        LONG("u64"),
        /** A C {@code float}. */
        FLOAT("f32");

        private final String ptxType;

        Param(String ptxType) {
            this.ptxType = ptxType;
        }

        /** @return the PTX parameter type, e.g. {@code u64} */
        String ptxType() {
            return ptxType;
        }
    }

    private static final Param P = Param.POINTER;
    private static final Param I = Param.INT;
    private static final Param L = Param.LONG;
    private static final Param F = Param.FLOAT;

    /** The weight formats the kernels read. Q4_K and Q6_K are not among them. */
    static final List<TensorType> WEIGHT_TYPES =
            List.of(TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q8_0, TensorType.Q4_0);

    /** Input rows the matrix-vector kernels are compiled for: each variant reads a weight once for that many rows. */
    static final List<Integer> GEMV_ROWS = List.of(1, 2, 4, 8);

    /** {@code (w, scales, x, out, rows, outs, cols, stride)}: the matrix products. */
    private static final List<Param> MATMUL = List.of(P, P, P, P, I, I, I, I);

    static final Kernel RMS_NORM = new Kernel("rms_norm", List.of(P, P, P, F, I));
    static final Kernel ROPE = new Kernel("rope", List.of(P, P, I, I, I, I, P, I));
    static final Kernel STORE_KV = new Kernel("store_kv", List.of(P, P, P, P, P, I, I, I, I, L, I));
    static final Kernel ATTENTION = new Kernel("attention", List.of(P, P, P, P, P, I, I, I, I, I, L, I, F));
    static final Kernel SWIGLU = new Kernel("swiglu", List.of(P, P, P, L));
    static final Kernel ADD = new Kernel("add", List.of(P, P, L));
    static final Kernel ADD_BIAS = new Kernel("add_bias", List.of(P, P, I, L));
    static final Kernel GATHER_ROWS = new Kernel("gather_rows", List.of(P, P, P, I));

    /** The longest head the attention kernel holds (its {@code MAX_HEAD_DIM}). */
    static final int MAX_HEAD_DIM = 256;

    Kernel {
        params = List.copyOf(params);
    }

    /** @return the matrix-vector kernel for {@code type} compiled for {@code rows} input rows (one of {@link #GEMV_ROWS}) */
    static Kernel gemv(TensorType type, int rows) {
        if (!GEMV_ROWS.contains(rows)) {
            throw new IllegalArgumentException("No matrix-vector kernel for " + rows + " rows");
        }
        return new Kernel("gemv_" + suffix(type) + "_" + rows, MATMUL);
    }

    /** @return whether a tensor-core kernel multiplies weights of {@code type} (all but F32) */
    static boolean hasTensorCoreKernel(TensorType type) {
        return type != TensorType.F32 && WEIGHT_TYPES.contains(type);
    }

    /** @return the tensor-core kernel for {@code type} */
    static Kernel mma(TensorType type) {
        if (!hasTensorCoreKernel(type)) {
            throw new IllegalArgumentException("No tensor-core kernel for " + type);
        }
        return new Kernel("mma_" + suffix(type), MATMUL);
    }

    /** @return the kernel that copies embedding rows of {@code type} out as floats */
    static Kernel embed(TensorType type) {
        return new Kernel("embed_" + suffix(type), List.of(P, P, P, P, I, I));
    }

    /** @return every kernel the backend launches */
    static List<Kernel> all() {
        List<Kernel> all = new ArrayList<>();
        for (TensorType type : WEIGHT_TYPES) {
            for (int rows : GEMV_ROWS) {
                all.add(gemv(type, rows));
            }
            if (hasTensorCoreKernel(type)) {
                all.add(mma(type));
            }
            all.add(embed(type));
        }
        Collections.addAll(all, RMS_NORM, ROPE, STORE_KV, ATTENTION, SWIGLU, ADD, ADD_BIAS, GATHER_ROWS);
        return List.copyOf(all);
    }

    private static String suffix(TensorType type) {
        if (!WEIGHT_TYPES.contains(type)) {
            throw new UnsupportedOperationException("The CUDA backend has no kernels for " + type + " weights");
        }
        return type.name().toLowerCase(java.util.Locale.ROOT);
    }
}
