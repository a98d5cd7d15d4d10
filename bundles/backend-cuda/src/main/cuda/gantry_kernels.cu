// Gantry's CUDA kernels: every operation of io.gantry.api.backend.DeviceBackend, compiled to PTX at build time
// and loaded with cuModuleLoadData. Entry points are extern "C" so their names are stable; the Java side
// (io.gantry.backend.cuda.KernelNames) lists every one and a build test checks the PTX holds them all.
//
// Layouts (see io.gantry.backend.cuda.WeightLayout):
//   activations  float, row-major [rows][cols]
//   F32/F16/BF16 weights [rows][stride] with stride = cols rounded up to a 16-byte multiple, zero padded
//   Q8_0 weights int8 quants [rows][cols], then one half scale per 32 quants [rows][cols/32]
//   Q4_0 weights 16 nibble bytes per 32 weights [rows][cols/2] (ggml order: low nibbles are weights 0..15 of
//                the block, high nibbles 16..31), then one half scale per block [rows][cols/32]
//   KV pool      per layer, keys then values, each [kvHeads][capacity][headDim] floats
//   batch layout int: rowSequence[rows], rowPosition[rows], sequenceTableOffset[sequences], tables...
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// ---- weight formats: CHUNK elements decoded at once (aligned vector loads), ELEMENT one at a time --------------

struct F32W {
    static constexpr int CHUNK = 4;
    __device__ static void chunk(const void* w, const __half*, long row, int stride, int, int c, float* v) {
        float4 q = reinterpret_cast<const float4*>(static_cast<const float*>(w) + row * stride)[c];
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    }
    __device__ static float element(const void* w, const __half*, long row, int stride, int, int k) {
        return static_cast<const float*>(w)[row * stride + k];
    }
};

struct F16W {
    static constexpr int CHUNK = 8;
    __device__ static void chunk(const void* w, const __half*, long row, int stride, int, int c, float* v) {
        int4 q = reinterpret_cast<const int4*>(static_cast<const __half*>(w) + row * stride)[c];
        const __half2* h = reinterpret_cast<const __half2*>(&q);
        for (int i = 0; i < 4; i++) {
            float2 f = __half22float2(h[i]);
            v[2 * i] = f.x; v[2 * i + 1] = f.y;
        }
    }
    __device__ static float element(const void* w, const __half*, long row, int stride, int, int k) {
        return __half2float(static_cast<const __half*>(w)[row * stride + k]);
    }
};

struct BF16W {
    static constexpr int CHUNK = 8;
    __device__ static void chunk(const void* w, const __half*, long row, int stride, int, int c, float* v) {
        int4 q = reinterpret_cast<const int4*>(static_cast<const uint16_t*>(w) + row * stride)[c];
        const uint32_t* u = reinterpret_cast<const uint32_t*>(&q);
        for (int i = 0; i < 4; i++) {
            v[2 * i] = __uint_as_float(u[i] << 16);
            v[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
        }
    }
    __device__ static float element(const void* w, const __half*, long row, int stride, int, int k) {
        return bf16_bits_to_float(static_cast<const uint16_t*>(w)[row * stride + k]);
    }
};

struct Q8W {
    static constexpr int CHUNK = 32;
    __device__ static void chunk(const void* w, const __half* scales, long row, int stride, int cols, int c, float* v) {
        const int4* q = reinterpret_cast<const int4*>(static_cast<const int8_t*>(w) + row * stride) + 2 * c;
        float d = __half2float(scales[row * (cols / 32) + c]);
        int4 lo = q[0];
        int4 hi = q[1];
        const int8_t* a = reinterpret_cast<const int8_t*>(&lo);
        const int8_t* b = reinterpret_cast<const int8_t*>(&hi);
        for (int i = 0; i < 16; i++) {
            v[i] = a[i] * d;
            v[16 + i] = b[i] * d;
        }
    }
    __device__ static float element(const void* w, const __half* scales, long row, int stride, int cols, int k) {
        return static_cast<const int8_t*>(w)[row * stride + k] * __half2float(scales[row * (cols / 32) + k / 32]);
    }
};

struct Q4W {
    static constexpr int CHUNK = 32;
    __device__ static void chunk(const void* w, const __half* scales, long row, int stride, int cols, int c, float* v) {
        int4 q = reinterpret_cast<const int4*>(static_cast<const uint8_t*>(w) + row * stride)[c];
        float d = __half2float(scales[row * (cols / 32) + c]);
        const uint8_t* b = reinterpret_cast<const uint8_t*>(&q);
        for (int i = 0; i < 16; i++) {
            v[i] = ((b[i] & 0x0f) - 8) * d;
            v[16 + i] = ((b[i] >> 4) - 8) * d;
        }
    }
    __device__ static float element(const void* w, const __half* scales, long row, int stride, int cols, int k) {
        uint8_t b = static_cast<const uint8_t*>(w)[row * stride + (k / 32) * 16 + (k % 32) % 16];
        int q = (k % 32) < 16 ? (b & 0x0f) : (b >> 4);
        return (q - 8) * __half2float(scales[row * (cols / 32) + k / 32]);
    }
};

// ---- matrix-vector products for decode: one warp per output, every input row at once --------------------------

constexpr int GEMV_WARPS = 4;

template <class W, int R>
__device__ void gemv(const void* w, const __half* scales, const float* x, float* out, int rows, int outs, int cols,
        int stride) {
    int lane = threadIdx.x & 31;
    long o = static_cast<long>(blockIdx.x) * GEMV_WARPS + (threadIdx.x >> 5);
    if (o >= outs) return;
    float acc[R];
    for (int r = 0; r < R; r++) acc[r] = 0.f;
    int chunks = cols / W::CHUNK;
    bool vectorX = (cols & 3) == 0;
    for (int c = lane; c < chunks; c += 32) {
        float v[W::CHUNK];
        W::chunk(w, scales, o, stride, cols, c, v);
        int k0 = c * W::CHUNK;
        for (int r = 0; r < R; r++) {
            if (r < rows) {
                const float* xr = x + static_cast<long>(r) * cols + k0;
                float sum = 0.f;
                if (vectorX) {
                    for (int i = 0; i < W::CHUNK; i += 4) {
                        float4 xv = *reinterpret_cast<const float4*>(xr + i);
                        sum += v[i] * xv.x + v[i + 1] * xv.y + v[i + 2] * xv.z + v[i + 3] * xv.w;
                    }
                } else {
                    for (int i = 0; i < W::CHUNK; i++) sum += v[i] * xr[i];
                }
                acc[r] += sum;
            }
        }
    }
    for (int k = chunks * W::CHUNK + lane; k < cols; k += 32) {
        float wk = W::element(w, scales, o, stride, cols, k);
        for (int r = 0; r < R; r++) {
            if (r < rows) acc[r] += wk * x[static_cast<long>(r) * cols + k];
        }
    }
    for (int r = 0; r < R; r++) {
        float total = warp_sum(acc[r]);
        if (lane == 0 && r < rows) out[static_cast<long>(r) * outs + o] = total;
    }
}

// ---- batched products on tensor cores: 64x64 output tiles, weights dequantised to F16 in shared memory ----------

constexpr int TILE = 64;
constexpr int TILE_K = 32;
constexpr int TILE_LD = TILE_K + 8;
constexpr int C_LD = TILE + 4;

// Decodes weights k0..k0+15 of one row (k0 a multiple of 16) into halves; zeros past cols.
template <class W>
__device__ void weight_half16(const void* w, const __half* scales, long row, int stride, int cols, int k0, __half* dst) {
    if (W::CHUNK == 32 && k0 + 16 <= cols) {
        float v[32];
        W::chunk(w, scales, row, stride, cols, k0 / 32, v);
        int from = k0 % 32;
        for (int i = 0; i < 16; i++) dst[i] = __float2half(v[from + i]);
    } else if (W::CHUNK == 8 && k0 + 16 <= cols) {
        float v[8];
        for (int part = 0; part < 2; part++) {
            W::chunk(w, scales, row, stride, cols, k0 / 8 + part, v);
            for (int i = 0; i < 8; i++) dst[part * 8 + i] = __float2half(v[i]);
        }
    } else {
        for (int i = 0; i < 16; i++) {
            int k = k0 + i;
            dst[i] = __float2half(k < cols ? W::element(w, scales, row, stride, cols, k) : 0.f);
        }
    }
}

template <class W>
__device__ void mma_matmul(const void* w, const __half* scales, const float* x, float* out, int rows, int outs, int cols,
        int stride) {
    using namespace nvcuda;
    __shared__ __align__(32) __half as[TILE][TILE_LD];
    __shared__ __align__(32) __half bs[TILE][TILE_LD];
    __shared__ __align__(32) float cs[TILE][C_LD];
    int m0 = blockIdx.y * TILE;
    int n0 = blockIdx.x * TILE;
    int warp = threadIdx.x >> 5;
    int wm = warp >> 1;
    int wn = warp & 1;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
    int loadRow = threadIdx.x >> 1;
    int loadHalf = (threadIdx.x & 1) * 16;
    bool vectorX = (cols & 3) == 0;
    for (int k0 = 0; k0 < cols; k0 += TILE_K) {
        int m = m0 + loadRow;
        int kx = k0 + loadHalf;
        __half* a = &as[loadRow][loadHalf];
        if (m < rows && vectorX && kx + 16 <= cols) {
            const float4* xr = reinterpret_cast<const float4*>(x + static_cast<long>(m) * cols + kx);
            for (int i = 0; i < 4; i++) {
                float4 v = xr[i];
                a[4 * i] = __float2half(v.x); a[4 * i + 1] = __float2half(v.y);
                a[4 * i + 2] = __float2half(v.z); a[4 * i + 3] = __float2half(v.w);
            }
        } else {
            for (int i = 0; i < 16; i++) {
                a[i] = __float2half(m < rows && kx + i < cols ? x[static_cast<long>(m) * cols + kx + i] : 0.f);
            }
        }
        int n = n0 + loadRow;
        __half* b = &bs[loadRow][loadHalf];
        if (n < outs && kx < cols) {
            weight_half16<W>(w, scales, n, stride, cols, kx, b);
        } else {
            for (int i = 0; i < 16; i++) b[i] = __float2half(0.f);
        }
        __syncthreads();
        for (int kk = 0; kk < TILE_K; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], &as[wm * 32 + 16 * i][kk], TILE_LD);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], &bs[wn * 32 + 16 * j][kk], TILE_LD);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&cs[wm * 32 + 16 * i][wn * 32 + 16 * j], acc[i][j], C_LD, wmma::mem_row_major);
    __syncthreads();
    for (int idx = threadIdx.x; idx < TILE * TILE; idx += blockDim.x) {
        int r = idx / TILE;
        int c = idx % TILE;
        if (m0 + r < rows && n0 + c < outs) out[static_cast<long>(m0 + r) * outs + n0 + c] = cs[r][c];
    }
}

template <class W>
__device__ void embed_rows(float* out, const void* w, const __half* scales, const int* tokens, int cols, int stride) {
    long token = tokens[blockIdx.x];
    float* o = out + static_cast<long>(blockIdx.x) * cols;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) o[k] = W::element(w, scales, token, stride, cols, k);
}

__device__ __forceinline__ int batch_slot(const int* layout, int rows, int sequences, int sequence, int position,
        int blockSize) {
    const int* tables = layout + 2 * rows + sequences;
    int offset = layout[2 * rows + sequence];
    return tables[offset + position / blockSize] * blockSize + position % blockSize;
}

}  // namespace

#define GEMV_ENTRY(NAME, W, R)                                                                                     \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) NAME(const void* w, const __half* scales,       \
            const float* x, float* out, int rows, int outs, int cols, int stride) {                               \
        gemv<W, R>(w, scales, x, out, rows, outs, cols, stride);                                                   \
    }
#define GEMV_ENTRIES(TYPE, W) GEMV_ENTRY(gemv_##TYPE##_1, W, 1) GEMV_ENTRY(gemv_##TYPE##_2, W, 2)                    \
    GEMV_ENTRY(gemv_##TYPE##_4, W, 4) GEMV_ENTRY(gemv_##TYPE##_8, W, 8)

GEMV_ENTRIES(f32, F32W)
GEMV_ENTRIES(f16, F16W)
GEMV_ENTRIES(bf16, BF16W)
GEMV_ENTRIES(q8_0, Q8W)
GEMV_ENTRIES(q4_0, Q4W)

#define MMA_ENTRY(TYPE, W)                                                                                         \
    extern "C" __global__ void __launch_bounds__(128) mma_##TYPE(const void* w, const __half* scales,             \
            const float* x, float* out, int rows, int outs, int cols, int stride) {                               \
        mma_matmul<W>(w, scales, x, out, rows, outs, cols, stride);                                                \
    }
MMA_ENTRY(f16, F16W)
MMA_ENTRY(bf16, BF16W)
MMA_ENTRY(q8_0, Q8W)
MMA_ENTRY(q4_0, Q4W)

#define EMBED_ENTRY(TYPE, W)                                                                                       \
    extern "C" __global__ void embed_##TYPE(float* out, const void* w, const __half* scales, const int* tokens,   \
            int cols, int stride) {                                                                                \
        embed_rows<W>(out, w, scales, tokens, cols, stride);                                                       \
    }
EMBED_ENTRY(f32, F32W)
EMBED_ENTRY(f16, F16W)
EMBED_ENTRY(bf16, BF16W)
EMBED_ENTRY(q8_0, Q8W)
EMBED_ENTRY(q4_0, Q4W)

// One block per row: out = in / sqrt(mean(in^2) + eps) * weight, rounded as the CPU backend rounds.
extern "C" __global__ void rms_norm(float* out, const float* in, const float* weight, float eps, int cols) {
    __shared__ float partial[32];
    const float* x = in + static_cast<long>(blockIdx.x) * cols;
    float* o = out + static_cast<long>(blockIdx.x) * cols;
    float sum = 0.f;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) sum += x[k] * x[k];
    sum = warp_sum(sum);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = sum;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x + 31) / 32 ? partial[threadIdx.x] : 0.f;
        v = warp_sum(v);
        if (threadIdx.x == 0) partial[0] = v;
    }
    __syncthreads();
    float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(partial[0] / cols + eps)));
    for (int k = threadIdx.x; k < cols; k += blockDim.x) o[k] = x[k] * scale * weight[k];
}

// One block per row; each thread rotates pairs. neox = 0: pairs (2i, 2i+1); neox = 1: pairs (i, i + pairs).
extern "C" __global__ void rope(float* x, const int* layout, int rows, int heads, int headDim, int pairs,
        const double* frequencies, int neox) {
    int row = blockIdx.x;
    double position = layout[rows + row];
    float* xr = x + static_cast<long>(row) * heads * headDim;
    for (int task = threadIdx.x; task < heads * pairs; task += blockDim.x) {
        int h = task / pairs;
        int i = task % pairs;
        int a = h * headDim + (neox ? i : 2 * i);
        int b = a + (neox ? pairs : 1);
        double s;
        double c;
        sincos(position * frequencies[i], &s, &c);
        float fc = static_cast<float>(c);
        float fs = static_cast<float>(s);
        float x0 = xr[a];
        float x1 = xr[b];
        xr[a] = x0 * fc - x1 * fs;
        xr[b] = x0 * fs + x1 * fc;
    }
}

// One block per row: copies its keys and values into the slot its position maps to.
extern "C" __global__ void store_kv(float* keys, float* values, const float* k, const float* v, const int* layout,
        int rows, int sequences, int kvHeads, int headDim, long capacity, int blockSize) {
    int row = blockIdx.x;
    int slot = batch_slot(layout, rows, sequences, layout[row], layout[rows + row], blockSize);
    int cols = kvHeads * headDim;
    for (int e = threadIdx.x; e < cols; e += blockDim.x) {
        int h = e / headDim;
        int d = e % headDim;
        long to = (h * capacity + slot) * headDim + d;
        keys[to] = k[static_cast<long>(row) * cols + e];
        values[to] = v[static_cast<long>(row) * cols + e];
    }
}

constexpr int ATTENTION_WARPS = 8;
constexpr int MAX_HEAD_DIM = 256;

// One block per (row, query head). Each warp takes every ATTENTION_WARPS-th position with an online softmax;
// the warps' partial results are merged at the end. Lanes split the head dimension.
extern "C" __global__ void __launch_bounds__(ATTENTION_WARPS * 32) attention(float* out, const float* q,
        const float* keys, const float* values, const int* layout, int rows, int sequences, int heads, int kvHeads,
        int headDim, long capacity, int blockSize, float scale) {
    constexpr int PER_LANE = MAX_HEAD_DIM / 32;
    __shared__ float warpMax[ATTENTION_WARPS];
    __shared__ float warpSum[ATTENTION_WARPS];
    __shared__ float warpAcc[ATTENTION_WARPS][MAX_HEAD_DIM];
    int row = blockIdx.x;
    int head = blockIdx.y;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int sequence = layout[row];
    int position = layout[rows + row];
    long kvBase = static_cast<long>(head / (heads / kvHeads)) * capacity * headDim;
    const float* qr = q + (static_cast<long>(row) * heads + head) * headDim;
    float qv[PER_LANE];
    float acc[PER_LANE];
    for (int j = 0; j < PER_LANE; j++) {
        int d = lane + 32 * j;
        qv[j] = d < headDim ? qr[d] : 0.f;
        acc[j] = 0.f;
    }
    float runningMax = -INFINITY;
    float runningSum = 0.f;
    for (int t = warp; t <= position; t += ATTENTION_WARPS) {
        long base = kvBase + static_cast<long>(batch_slot(layout, rows, sequences, sequence, t, blockSize)) * headDim;
        float dot = 0.f;
        for (int j = 0; j < PER_LANE; j++) {
            int d = lane + 32 * j;
            if (d < headDim) dot += qv[j] * keys[base + d];
        }
        float score = warp_sum(dot) * scale;
        float newMax = fmaxf(runningMax, score);
        float correction = __expf(runningMax - newMax);
        float p = __expf(score - newMax);
        runningSum = runningSum * correction + p;
        for (int j = 0; j < PER_LANE; j++) {
            int d = lane + 32 * j;
            acc[j] = acc[j] * correction + (d < headDim ? p * values[base + d] : 0.f);
        }
        runningMax = newMax;
    }
    if (lane == 0) {
        warpMax[warp] = runningMax;
        warpSum[warp] = runningSum;
    }
    for (int j = 0; j < PER_LANE; j++) {
        int d = lane + 32 * j;
        if (d < headDim) warpAcc[warp][d] = acc[j];
    }
    __syncthreads();
    float blockMax = -INFINITY;
    for (int w = 0; w < ATTENTION_WARPS; w++) blockMax = fmaxf(blockMax, warpMax[w]);
    float total = 0.f;
    for (int w = 0; w < ATTENTION_WARPS; w++) {
        total += warpMax[w] == -INFINITY ? 0.f : warpSum[w] * __expf(warpMax[w] - blockMax);
    }
    float* o = out + (static_cast<long>(row) * heads + head) * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float sum = 0.f;
        for (int w = 0; w < ATTENTION_WARPS; w++) {
            if (warpMax[w] != -INFINITY) sum += warpAcc[w][d] * __expf(warpMax[w] - blockMax);
        }
        o[d] = sum / total;
    }
}

extern "C" __global__ void swiglu(float* out, const float* gate, const float* up, long count) {
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
            i += static_cast<long>(gridDim.x) * blockDim.x) {
        float g = gate[i];
        out[i] = g / (1.f + expf(-g)) * up[i];
    }
}

extern "C" __global__ void add(float* acc, const float* in, long count) {
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
            i += static_cast<long>(gridDim.x) * blockDim.x) {
        acc[i] += in[i];
    }
}

extern "C" __global__ void add_bias(float* out, const float* bias, int cols, long count) {
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
            i += static_cast<long>(gridDim.x) * blockDim.x) {
        out[i] += bias[i % cols];
    }
}

// One block per output row: out[r] = in[sourceRows[r]].
extern "C" __global__ void gather_rows(float* out, const float* in, const int* sourceRows, int cols) {
    const float* from = in + static_cast<long>(sourceRows[blockIdx.x]) * cols;
    float* to = out + static_cast<long>(blockIdx.x) * cols;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) to[k] = from[k];
}
