package io.gantry.backend.cuda;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** Random weights as a model file holds them: raw bytes of each format, with realistic magnitudes. */
final class RandomTensors {

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomTensors() {
    }

    /** @return a {@code rows x cols} tensor of {@code type}: Gaussian floats of deviation {@code scale}, or random quants */
    static HostTensor random(TensorType type, int rows, int cols, float scale, Random random) {
        MemorySegment data = Arena.ofAuto().allocate(type.bytesFor(cols) * rows, 64);
        long count = (long) rows * cols;
        switch (type) {
            case F32 -> {
                for (long i = 0; i < count; i++) {
                    data.set(FLOAT, 4 * i, (float) random.nextGaussian() * scale);
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    data.set(SHORT, 2 * i, Float.floatToFloat16((float) random.nextGaussian() * scale));
                }
            }
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    data.set(SHORT, 2 * i, (short) (Float.floatToRawIntBits((float) random.nextGaussian() * scale) >>> 16));
                }
            }
            case Q8_0, Q4_0 -> {
                int blockBytes = type.blockBytes();
                for (long block = 0; block < count / 32; block++) {
                    long at = block * blockBytes;
                    // A block's scale maps its largest quant to about 2.5 deviations, as a quantiser would.
                    float d = scale * 2.5f / (type == TensorType.Q8_0 ? 127 : 8) * (0.5f + random.nextFloat());
                    data.set(SHORT, at, Float.floatToFloat16(d));
                    for (int i = 2; i < blockBytes; i++) {
                        data.set(ValueLayout.JAVA_BYTE, at + i, (byte) random.nextInt(256));
                    }
                }
            }
            default -> throw new IllegalArgumentException("No random " + type);
        }
        return new HostTensor("random." + type, type, rows, cols, data);
    }

    /** @return {@code count} Gaussian floats of deviation {@code scale} */
    static float[] gaussian(int count, float scale, Random random) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian() * scale;
        }
        return values;
    }
}
