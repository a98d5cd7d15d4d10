package io.gantry.engine.gguf;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SequencedMap;

import static io.gantry.engine.gguf.GgufMalformedFileTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufWriterRoundTripTest {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path folder;

    private static SequencedMap<String, GgufValue> everyKindOfValue() {
        SequencedMap<String, GgufValue> values = new LinkedHashMap<>();
        values.put("general.alignment", GgufValue.ofUInt32(64));
        values.put("u8", GgufValue.ofInteger(GgufValueType.UINT8, 255));
        values.put("i8", GgufValue.ofInteger(GgufValueType.INT8, -128));
        values.put("u16", GgufValue.ofInteger(GgufValueType.UINT16, 65535));
        values.put("i16", GgufValue.ofInteger(GgufValueType.INT16, -32768));
        values.put("u32", GgufValue.ofUInt32(4_294_967_295L));
        values.put("i32", GgufValue.ofInt32(Integer.MIN_VALUE));
        values.put("u64", GgufValue.ofInteger(GgufValueType.UINT64, -1L));
        values.put("i64", GgufValue.ofInteger(GgufValueType.INT64, Long.MIN_VALUE));
        values.put("f32", GgufValue.ofFloat32(1e-5f));
        values.put("f32 nan", GgufValue.ofFloat32(Float.NaN));
        values.put("f64", GgufValue.ofFloat64(Math.PI));
        values.put("true", GgufValue.ofBool(true));
        values.put("false", GgufValue.ofBool(false));
        values.put("empty string", GgufValue.ofString(""));
        values.put("unicode ▁ 🦙 我", GgufValue.ofString("Führer ▁ 🦙 我想\n\t\u0000"));
        values.put("u8 array", GgufValue.ofArray(GgufArray.of(GgufValueType.UINT8, new byte[] {0, 1, (byte) 255})));
        values.put("i8 array", GgufValue.ofArray(GgufArray.of(GgufValueType.INT8, new byte[] {-128, 127})));
        values.put("u16 array", GgufValue.ofArray(GgufArray.of(GgufValueType.UINT16, new short[] {(short) 65535})));
        values.put("i16 array", GgufValue.ofArray(GgufArray.of(GgufValueType.INT16, new short[] {-1, 2})));
        values.put("u32 array", GgufValue.ofArray(GgufArray.of(GgufValueType.UINT32, new int[] {-1, 7})));
        values.put("i32 array", GgufValue.ofArray(GgufArray.ofInt32(1, -2, 3)));
        values.put("u64 array", GgufValue.ofArray(GgufArray.of(GgufValueType.UINT64, new long[] {-1L})));
        values.put("i64 array", GgufValue.ofArray(GgufArray.of(GgufValueType.INT64, new long[] {Long.MIN_VALUE, 0})));
        values.put("f32 array", GgufValue.ofArray(GgufArray.ofFloat32(0f, -1.5f, Float.MAX_VALUE)));
        values.put("f64 array", GgufValue.ofArray(GgufArray.of(GgufValueType.FLOAT64, new double[] {1e300, -0.0})));
        values.put("bool array", GgufValue.ofArray(GgufArray.of(GgufValueType.BOOL, new boolean[] {true, false})));
        values.put("string array", GgufValue.ofArray(GgufArray.ofStrings("<s>", "", "▁hello", "🦙")));
        values.put("empty array", GgufValue.ofArray(GgufArray.ofStrings()));
        values.put("nested array", GgufValue.ofArray(GgufArray.of(GgufValueType.ARRAY, new GgufArray[] {
                GgufArray.ofStrings("a", "b"),
                GgufArray.of(GgufValueType.ARRAY, new GgufArray[] {GgufArray.ofInt32(42)}),
                GgufArray.ofFloat32()})));
        return values;
    }

    /** A shape per tensor type; Q6_K's is 3-D, so its rows are the product of the higher dimensions. */
    private static final Map<TensorType, long[]> SHAPES = Map.of(
            TensorType.F32, new long[] {4, 3},
            TensorType.F16, new long[] {8, 2},
            TensorType.BF16, new long[] {6},
            TensorType.Q8_0, new long[] {64, 2},
            TensorType.Q4_0, new long[] {32, 3},
            TensorType.Q4_K, new long[] {256, 2},
            TensorType.Q6_K, new long[] {512, 1, 2});

    @Test
    void everyValueAndTensorTypeSurvivesARoundTrip() throws IOException {
        SequencedMap<String, GgufValue> metadata = everyKindOfValue();
        GgufWriter writer = new GgufWriter();
        metadata.forEach(writer::put);
        Random random = new Random(7);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (TensorType type : TensorType.values()) {
            GgufTensorInfo shape = new GgufTensorInfo(type.name().toLowerCase() + ".weight", type, SHAPES.get(type), 0);
            byte[] bytes = new byte[(int) shape.byteSize()];
            random.nextBytes(bytes);
            contents.put(shape.name(), bytes);
            writer.addTensor(shape.name(), type, shape.dims(), MemorySegment.ofArray(bytes));
        }
        Path path = folder.resolve("round-trip.gguf");
        writer.write(path);

        try (GgufFile file = GgufFile.open(path)) {
            assertEquals(3, file.version());
            assertEquals(64, file.alignment());
            assertEquals(0, file.dataOffset() % 64);
            assertEquals(new ArrayList<>(metadata.entrySet()), new ArrayList<>(file.metadata().entrySet()));
            List<GgufTensorInfo> infos = file.tensorInfos();
            assertEquals(TensorType.values().length, infos.size());
            for (TensorType type : TensorType.values()) {
                GgufTensorInfo info = infos.get(type.ordinal());
                assertEquals(type, info.type());
                assertArrayEquals(SHAPES.get(type), info.dims());
                assertEquals(0, info.offset() % 64, info + " is aligned");
                HostTensor tensor = file.tensor(info.name());
                assertEquals(info.cols(), tensor.cols());
                assertEquals(info.rows(), tensor.rows());
                assertArrayEquals(contents.get(info.name()), tensor.data().toArray(ValueLayout.JAVA_BYTE));
                assertTrue(tensor.data().isMapped());
            }
            assertEquals(2, file.tensor("q6_k.weight").rows());
        }
    }

    @Test
    void gettersWidenIntegersAndNameTheFileAndKeyWhenTheyCannot() throws IOException {
        Path path = folder.resolve("getters.gguf");
        GgufWriter writer = new GgufWriter();
        everyKindOfValue().forEach(writer::put);
        writer.write(path);
        try (GgufFile file = GgufFile.open(path)) {
            assertEquals(255, file.getInt("u8"));
            assertEquals(-32768, file.getInt("i16"));
            assertEquals(4_294_967_295L, file.getLong("u32"));
            assertEquals(Long.MIN_VALUE, file.getLong("i64"));
            assertEquals(1e-5f, file.getFloat("f32"));
            assertEquals((float) Math.PI, file.getFloat("f64"));
            assertTrue(file.getBoolean("true"));
            assertEquals("Führer ▁ 🦙 我想\n\t\u0000", file.getString("unicode ▁ 🦙 我"));
            assertArrayEquals(new int[] {0, 1, 255}, file.getIntArray("u8 array"));
            assertArrayEquals(new int[] {65535}, file.getIntArray("u16 array"));
            assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, -0.0f}, file.getFloatArray("f64 array"));
            assertArrayEquals(new String[] {"<s>", "", "▁hello", "🦙"}, file.getStringArray("string array"));
            assertEquals(3, file.getArray("nested array").toNestedArrays().length);
            assertEquals(7, file.getInt("missing", 7));
            assertEquals("x", file.getString("missing", "x"));
            assertFalse(file.getBoolean("missing", false));
            assertFalse(file.has("missing"));
            assertTrue(file.value("u8").isPresent());

            assertRejected(() -> file.getInt("u32"), "metadata 'u32' is UINT32 4294967295, too large for an int");
            assertRejected(() -> file.getLong("u64"), "metadata 'u64' is UINT64 18446744073709551615, too large");
            assertRejected(() -> file.getString("u8"), "metadata 'u8' is UINT8, not a string");
            assertRejected(() -> file.getIntArray("u32 array"), "metadata 'u32 array' element 0 is 4294967295");
            assertRejected(() -> file.getFloatArray("string array"), "not of floats");
            assertRejected(() -> file.getInt("missing"), "has no metadata key 'missing'");
            assertRejected(() -> file.tensor("missing"), "has no tensor 'missing'");
        }
    }

    private static void assertRejected(Runnable call, String problem) {
        GgufFormatException e = assertThrows(GgufFormatException.class, call::run);
        assertContains(e.getMessage(), "getters.gguf");
        assertContains(e.getMessage(), problem);
    }

    @Test
    void writerRefusesWhatTheReaderWouldReject() {
        GgufWriter writer = new GgufWriter().putUInt32("k", 1);
        MemorySegment eightFloats = MemorySegment.ofArray(new byte[32]);
        writer.addTensor("t", TensorType.F32, new long[] {8}, eightFloats);
        assertThrows(IllegalArgumentException.class, () -> writer.putString("k", "again"));
        assertThrows(IllegalArgumentException.class, () -> writer.putUInt32("general.alignment", 48));
        assertThrows(IllegalArgumentException.class, () -> writer.putInt32("general.alignment", 64));
        assertThrows(IllegalArgumentException.class, () -> writer.addTensor("t", TensorType.F32, new long[] {8}, eightFloats));
        assertThrows(IllegalArgumentException.class, () -> writer.addTensor("u", TensorType.F32, new long[] {9}, eightFloats));
        assertThrows(IllegalArgumentException.class,
                () -> writer.addTensor("u", TensorType.Q8_0, new long[] {33}, MemorySegment.ofArray(new byte[34])));
        assertThrows(IllegalArgumentException.class, () -> writer.addTensor("u", TensorType.F32, new long[] {}, eightFloats));
        assertThrows(IllegalArgumentException.class, () -> writer.addTensor("u", TensorType.F32, new long[] {0}, eightFloats));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.ofInteger(GgufValueType.UINT8, 256));
        assertThrows(IllegalArgumentException.class, () -> GgufArray.of(GgufValueType.UINT32, new long[] {1}));
    }

    @Test
    void tensorContentThatWritesTheWrongSizeFailsTheWrite() {
        GgufWriter writer = new GgufWriter().addTensor("t", TensorType.F32, new long[] {8},
                out -> out.write(ByteBuffer.allocate(31)));
        IOException e = assertThrows(IOException.class, () -> writer.write(folder.resolve("short.gguf")));
        assertContains(e.getMessage(), "'t' should be 32 bytes, but its content wrote 31");
    }

    /** Offsets past 2 GiB must work; the file is sparse, so this costs no disk space. */
    @Test
    void tensorsBeyondTwoGibibytesAreReadable() throws IOException {
        long[] hugeShape = {65_536, 10_240}; // 2.5 GiB of F32
        long hugeBytes = 4L * hugeShape[0] * hugeShape[1];
        float[] after = {1, 2, 3, 4, 5, 6, 7, 8};
        Path path = folder.resolve("huge.gguf");
        new GgufWriter()
                .addTensor("huge", TensorType.F32, hugeShape, out -> {
                    out.position(out.position() + hugeBytes - 4);
                    out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, -1.5f));
                })
                .addTensor("after", TensorType.F32, new long[] {8}, MemorySegment.ofArray(after))
                .write(path);
        assertTrue(Files.size(path) > hugeBytes);
        try (GgufFile file = GgufFile.open(path)) {
            HostTensor huge = file.tensor("huge");
            assertEquals(10_240, huge.rows());
            assertEquals(65_536, huge.cols());
            assertEquals(hugeBytes, huge.data().byteSize());
            assertEquals(-1.5f, huge.data().get(F32_LE, hugeBytes - 4));
            HostTensor last = file.tensor("after");
            assertTrue(file.dataOffset() + file.tensorInfo("after").orElseThrow().offset() > Integer.MAX_VALUE);
            assertArrayEquals(after, last.data().toArray(F32_LE));
        }
    }

    @Test
    void closedFileHandsOutNoTensors() throws IOException {
        Path path = folder.resolve("closed.gguf");
        new GgufWriter().addTensor("t", TensorType.F32, new long[] {8}, MemorySegment.ofArray(new byte[32])).write(path);
        GgufFile file = GgufFile.open(path);
        HostTensor tensor = file.tensor("t");
        file.close();
        file.close();
        assertThrows(IllegalStateException.class, () -> file.tensor("t"));
        assertThrows(IllegalStateException.class, () -> tensor.data().get(ValueLayout.JAVA_BYTE, 0));
    }
}
