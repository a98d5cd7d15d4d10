package io.gantry.engine.gguf;

import io.gantry.api.backend.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Every malformed file must fail with a GgufFormatException that names it, and with nothing else. */
class GgufMalformedFileTest {

    private static final int Q5_K = 13;
    private static final long U64_MAX = -1L;

    @TempDir
    Path folder;

    /** A small valid file whose last tensor ends exactly at the end of the file, so every truncation cuts something. */
    private byte[] validFile() throws IOException {
        Path path = folder.resolve("valid.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putUInt32("llama.block_count", 5)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putArray("tokenizer.ggml.tokens", GgufArray.ofStrings("<unk>", "<s>", "▁hello"))
                .putArray("tokenizer.ggml.scores", GgufArray.ofFloat32(0f, 0f, -1.5f))
                .putArray("nested", GgufArray.of(GgufValueType.ARRAY,
                        new GgufArray[] {GgufArray.ofInt32(1, 2), GgufArray.ofStrings("x")}))
                .addTensor("a", TensorType.Q8_0, new long[] {32, 2}, MemorySegment.ofArray(new byte[68]))
                .addTensor("b", TensorType.F32, new long[] {8}, MemorySegment.ofArray(new byte[32]))
                .write(path);
        byte[] bytes = Files.readAllBytes(path);
        try (GgufFile file = GgufFile.open(path)) {
            GgufTensorInfo last = file.tensorInfos().getLast();
            assertEquals(bytes.length, file.dataOffset() + last.offset() + last.byteSize());
        }
        return bytes;
    }

    private GgufFormatException assertRejected(String fileName, byte[] content) throws IOException {
        Path path = folder.resolve(fileName);
        Files.write(path, content);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(path).close());
        assertContains(e.getMessage(), fileName);
        return e;
    }

    @Test
    @Timeout(60)
    void everyTruncationIsRejected() throws IOException {
        byte[] valid = validFile();
        for (int length = 0; length < valid.length; length++) {
            assertRejected("truncated-" + length + ".gguf", Arrays.copyOf(valid, length));
        }
    }

    static Stream<Arguments> malformedFiles() {
        return Stream.of(
                Arguments.of("empty", new byte[0], "empty"),
                Arguments.of("ggml magic", new byte[] {'l', 'm', 'g', 'g', 1, 0, 0, 0}, "not a GGUF file"),
                Arguments.of("version 1", RawGguf.header(1, 0, 0).bytes(), "version 1"),
                Arguments.of("version 4", RawGguf.header(4, 0, 0).bytes(), "unknown GGUF version 4"),
                Arguments.of("big-endian", RawGguf.header(0x03000000, 0, 0).bytes(), "big-endian"),
                Arguments.of("tensor count 2^64-1", RawGguf.header(3, U64_MAX, 0).bytes(), "tensor count"),
                Arguments.of("tensor count 10^12", RawGguf.header(3, 1_000_000_000_000L, 0).bytes(), "tensor count"),
                Arguments.of("metadata count 2^63", RawGguf.header(3, 0, Long.MIN_VALUE).bytes(), "metadata count"),
                Arguments.of("metadata count past end", RawGguf.header(3, 0, 2).uint32Entry("a", 1).bytes(), "metadata count is 2"),
                Arguments.of("entry cut short", RawGguf.header(3, 0, 2).uint32Entry("a", 1).string("b").u32(4).bytes(), "truncated"),
                Arguments.of("key length 2^64-1", RawGguf.header(3, 0, 1).u64(U64_MAX).u64(0).bytes(),
                        "key of metadata entry #0"),
                Arguments.of("key length past end", RawGguf.header(3, 0, 1).u64(100).u32(0).u32(0).u32(0).bytes(),
                        "only 12 bytes follow"),
                Arguments.of("value type 13", RawGguf.header(3, 0, 1).string("k").u32(13).u32(0).bytes(),
                        "unknown value type 13"),
                Arguments.of("value type 2^32-1", RawGguf.header(3, 0, 1).string("k").u32(-1).u32(0).bytes(),
                        "unknown value type 4294967295"),
                Arguments.of("string value past end", RawGguf.header(3, 0, 1).string("k").u32(8).u64(50).u32(0).bytes(),
                        "length of metadata 'k'"),
                Arguments.of("array of 2^40 u32", RawGguf.header(3, 0, 1).string("k").u32(9).u32(4).u64(1L << 40).bytes(),
                        "length of metadata 'k'"),
                Arguments.of("array of 2^62 strings", RawGguf.header(3, 0, 1).string("k").u32(9).u32(8).u64(1L << 62).bytes(),
                        "length of metadata 'k'"),
                Arguments.of("array of unknown type", RawGguf.header(3, 0, 1).string("k").u32(9).u32(99).u64(0).bytes(),
                        "unknown value type 99"),
                Arguments.of("arrays nested 1000 deep", deeplyNestedArrays(1000), "nests arrays"),
                Arguments.of("bool byte 2", RawGguf.header(3, 0, 1).string("k").u32(7).u8(2).bytes(), "boolean"),
                Arguments.of("duplicate key", RawGguf.header(3, 0, 2).uint32Entry("k", 1).uint32Entry("k", 2).bytes(),
                        "'k' appears twice"),
                Arguments.of("alignment 0", RawGguf.header(3, 0, 1).uint32Entry("general.alignment", 0).bytes(),
                        "not a power of two"),
                Arguments.of("alignment 48", RawGguf.header(3, 0, 1).uint32Entry("general.alignment", 48).bytes(),
                        "not a power of two"),
                Arguments.of("alignment string", RawGguf.header(3, 0, 1).string("general.alignment").u32(8).string("32").bytes(),
                        "not an integer"),
                Arguments.of("0 dimensions", oneTensor("t", 0, 0), "0 dimensions"),
                Arguments.of("5 dimensions", oneTensor("t", 0, 0, 1, 1, 1, 1, 1), "5 dimensions"),
                Arguments.of("dimension 0", oneTensor("t", 0, 0, 4, 0), "dimension 1 of size 0"),
                Arguments.of("dimension 2^63", oneTensor("t", 0, 0, Long.MIN_VALUE), "dimension 0 of size 9223372036854775808"),
                Arguments.of("dimensions overflow", oneTensor("t", 0, 0, 1L << 32, 1L << 32, 1L << 32), "64 bits"),
                Arguments.of("2^31 rows", oneTensor("t", 0, 0, 1, 1L << 31), "2^31-1"),
                Arguments.of("tensor type 99", oneTensor("t", 99, 0, 8), "Unsupported GGUF tensor type id 99"),
                Arguments.of("tensor type Q5_K", oneTensor("t", Q5_K, 0, 256), "Unsupported GGUF tensor type id 13"),
                Arguments.of("Q8_0 row of 33", oneTensor("t", TensorType.Q8_0.ggmlId(), 0, 33), "whole number of Q8_0 blocks"),
                Arguments.of("misaligned offset", oneTensor("t", 0, 4, 8), "not a multiple of the alignment 32"),
                Arguments.of("offset 2^64-32", oneTensor("t", 0, -32, 8), "past the end of the file"),
                Arguments.of("offset past end", oneTensor("t", 0, 64, 8), "runs past the end of the file"),
                Arguments.of("size past end", oneTensor("t", 0, 0, 9), "runs past the end of the file"),
                Arguments.of("duplicate tensor", RawGguf.header(3, 2, 0).tensorInfo("t", 0, 0, 8).tensorInfo("t", 0, 32, 8)
                        .data(32, 64).bytes(), "'t' appears twice"),
                Arguments.of("no data section", RawGguf.header(3, 1, 0).tensorInfo("tensor", 0, 0, 8).bytes(),
                        "data section would start"));
    }

    /** A file with one tensor info and 32 bytes of data. */
    private static byte[] oneTensor(String name, int typeId, long offset, long... dims) {
        return RawGguf.header(3, 1, 0).tensorInfo(name, typeId, offset, dims).data(32, 32).bytes();
    }

    private static byte[] deeplyNestedArrays(int depth) {
        RawGguf raw = RawGguf.header(3, 0, 1).string("k").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < depth; i++) {
            raw.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        return raw.u32(GgufValueType.UINT8.id()).u64(0).bytes();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFiles")
    void malformedFileIsRejectedWithItsProblem(String description, byte[] content, String problem) throws IOException {
        GgufFormatException e = assertRejected(description.replace(' ', '-') + ".gguf", content);
        assertContains(e.getMessage(), problem);
    }

    /** In a multi-GiB file the bytes left do not bound a count usefully, so a fixed limit must. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("absurdCountsInAHugeFile")
    void countsInHugeFilesAreCapped(String description, byte[] header, String problem) throws IOException {
        Path path = folder.resolve("huge-" + description.replace(' ', '-') + ".gguf");
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.write(header);
            file.setLength(3L << 30); // sparse: costs no disk space
        }
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(path).close());
        assertContains(e.getMessage(), path.getFileName().toString());
        assertContains(e.getMessage(), problem);
    }

    static Stream<Arguments> absurdCountsInAHugeFile() {
        return Stream.of(
                Arguments.of("2^30 byte array", RawGguf.header(3, 0, 1).string("k").u32(9).u32(0).u64(1L << 30).bytes(),
                        "more than the 16777216 Gantry accepts"),
                Arguments.of("2^28 string array", RawGguf.header(3, 0, 1).string("k").u32(9).u32(8).u64(1L << 28).bytes(),
                        "more than the 16777216 Gantry accepts"),
                Arguments.of("2^30 byte string", RawGguf.header(3, 0, 1).string("k").u32(8).u64(1L << 30).bytes(),
                        "more than the 67108864 Gantry accepts"));
    }

    /** Random damage to the header must either leave a readable file or be reported; nothing else may happen. */
    @Test
    @Timeout(120)
    void randomHeaderDamageIsReportedOrHarmless() throws IOException {
        byte[] valid = validFile();
        int headerLength;
        try (GgufFile file = GgufFile.open(folder.resolve("valid.gguf"))) {
            headerLength = (int) file.dataOffset();
        }
        Random random = new Random(20240521);
        Path path = folder.resolve("damaged.gguf");
        int rejected = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] damaged = valid.clone();
            int changes = 1 + random.nextInt(4);
            for (int i = 0; i < changes; i++) {
                int at = random.nextInt(headerLength);
                damaged[at] = switch (random.nextInt(3)) {
                    case 0 -> (byte) random.nextInt(256);
                    case 1 -> (byte) 0xFF;
                    default -> (byte) (damaged[at] ^ (1 << random.nextInt(8)));
                };
            }
            Files.write(path, damaged);
            try (GgufFile file = GgufFile.open(path)) {
                for (GgufTensorInfo tensor : file.tensorInfos()) {
                    assertTrue(file.tensor(tensor.name()).data().byteSize() > 0);
                }
            } catch (GgufFormatException e) {
                assertContains(e.getMessage(), "damaged.gguf");
                rejected++;
            } catch (RuntimeException | Error e) {
                fail("round " + round + ": damage led to " + e + " instead of a GgufFormatException", e);
            }
        }
        assertTrue(rejected > 1000, "only " + rejected + " of 3000 damaged files were rejected");
    }

    static void assertContains(String message, String expected) {
        assertTrue(message.contains(expected), () -> "'" + message + "' should mention '" + expected + "'");
    }
}
