package io.gantry.engine.synth;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** What writing a model file takes beyond {@link GgufWriter}: parallel encoding, a space check, no half-written file. */
final class ModelFiles {

    /** GGUF's default tensor alignment, which the files written here keep. */
    private static final int ALIGNMENT = 32;
    /** Headroom for the header (a 32000-token vocabulary takes about 1 MiB) on top of the tensor data. */
    private static final long HEADER_ALLOWANCE = 16L << 20;

    /**
     * A tensor to write: encoded from a {@link RowSource}, or copied as it is.
     *
     * @param name   its name
     * @param type   its format in the file
     * @param dims   its GGUF shape
     * @param source its values, or {@code null} when {@code bytes} are copied
     * @param bytes  its bytes, or {@code null} when encoded
     */
    record PlannedTensor(String name, TensorType type, long[] dims, RowSource source, MemorySegment bytes) {

        static PlannedTensor encoded(String name, TensorType type, RowSource source, long... dims) {
            return new PlannedTensor(name, type, dims, source, null);
        }

        static PlannedTensor copied(HostTensor tensor, long[] dims) {
            return new PlannedTensor(tensor.name(), tensor.type(), dims, null, tensor.data());
        }

        long cols() {
            return dims[0];
        }

        long elements() {
            long elements = 1;
            for (long dim : dims) {
                elements = Math.multiplyExact(elements, dim);
            }
            return elements;
        }

        long byteSize() {
            return type.bytesFor(elements());
        }
    }

    private ModelFiles() {
    }

    /**
     * Adds the tensors to a writer that holds the metadata and writes the file: into {@code output}'s name plus
     * {@code .part} first, moved over {@code output} once complete, so that a failed or interrupted run leaves no file
     * that looks whole.
     *
     * @throws IOException if writing fails or the disk has too little space for the file
     */
    static WrittenModel write(GgufWriter writer, List<PlannedTensor> tensors, Path output, int threads)
            throws IOException {
        long parameters = 0;
        long tensorBytes = 0;
        long alignedBytes = 0;
        for (PlannedTensor tensor : tensors) {
            parameters += tensor.elements();
            tensorBytes += tensor.byteSize();
            alignedBytes += Math.ceilDiv(tensor.byteSize(), ALIGNMENT) * ALIGNMENT;
        }
        Path absolute = output.toAbsolutePath();
        Path folder = absolute.getParent();
        if (!Files.isDirectory(folder)) {
            throw new IOException("Cannot write " + output + ": the folder " + folder + " does not exist");
        }
        long needed = alignedBytes + HEADER_ALLOWANCE;
        long usable = Files.getFileStore(folder).getUsableSpace();
        if (usable < needed) {
            throw new IOException("Cannot write " + output + ": it needs about " + (needed >> 20) + " MiB but "
                    + folder + " has " + (usable >> 20) + " MiB free");
        }
        Path partial = absolute.resolveSibling(absolute.getFileName() + ".part");
        try (ParallelTensorEncoder encoder = new ParallelTensorEncoder(threads)) {
            for (PlannedTensor tensor : tensors) {
                if (tensor.bytes() != null) {
                    writer.addTensor(tensor.name(), tensor.type(), tensor.dims(), tensor.bytes());
                } else {
                    writer.addTensor(tensor.name(), tensor.type(), tensor.dims(), encoder.content(tensor.type(),
                            tensor.elements() / tensor.cols(), Math.toIntExact(tensor.cols()), tensor.source()));
                }
            }
            writer.write(partial);
            Files.move(partial, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        return new WrittenModel(output, parameters, tensorBytes, Files.size(absolute));
    }

    /** @return a tensor's seed: the model's seed mixed with its name (FNV-1a), so no two tensors share values */
    static long tensorSeed(long seed, String name) {
        long hash = seed ^ 0xCBF29CE484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            hash = (hash ^ (b & 0xFF)) * 0x100000001B3L;
        }
        return hash;
    }
}
