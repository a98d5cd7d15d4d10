package io.gantry.engine.synth;

import io.gantry.api.backend.HostTensor;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Where the float values of a tensor being written come from, chunk by chunk. {@link #chunk} is called for
 * consecutive chunks in row order on one thread; the fill it returns may run on any thread, in any order. A random
 * source therefore draws each chunk's generator in {@code chunk}, so that the values depend on the seed and the
 * chunking alone, not on how many threads fill them.
 */
@FunctionalInterface
interface RowSource {

    /**
     * @param firstRow the chunk's first row
     * @param rowCount its rows
     * @return what fills an array of at least {@code rowCount * cols} floats with the chunk's values, row after row
     */
    Consumer<float[]> chunk(long firstRow, int rowCount);

    /**
     * Values drawn from N(0, 1/cols) and rounded to F16, the recipe of the benchmark models: every format they are
     * written in is then made from the same F16 values, as if quantized from the F16 file.
     *
     * @param seed the tensor's seed
     * @param cols elements per row
     */
    static RowSource gaussianF16(long seed, int cols) {
        SplittableRandom tensorRandom = new SplittableRandom(seed);
        double deviation = 1 / Math.sqrt(cols);
        return (firstRow, rowCount) -> {
            SplittableRandom random = tensorRandom.split();
            int count = rowCount * cols;
            return values -> {
                for (int i = 0; i < count; i++) {
                    values[i] = TensorEncoding.roundToF16((float) (random.nextGaussian() * deviation));
                }
            };
        };
    }

    /** A tensor of ones (norm weights). */
    static RowSource ones(int cols) {
        return (firstRow, rowCount) -> values -> Arrays.fill(values, 0, rowCount * cols, 1f);
    }

    /**
     * The values of a tensor in a {@linkplain TensorEncoding#DECODABLE float format}, e.g. a mapped model file's.
     */
    static RowSource decoded(HostTensor tensor) {
        int cols = tensor.cols();
        long rowBytes = tensor.rowBytes();
        return (firstRow, rowCount) -> values -> TensorEncoding.decode(tensor.type(), tensor.data(),
                firstRow * rowBytes, values, 0, rowCount * cols);
    }
}
