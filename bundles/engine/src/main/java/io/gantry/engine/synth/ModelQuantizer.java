package io.gantry.engine.synth;

import io.gantry.api.backend.HostTensor;
import io.gantry.api.backend.TensorType;
import io.gantry.engine.gguf.GgufFile;
import io.gantry.engine.gguf.GgufTensorInfo;
import io.gantry.engine.gguf.GgufValue;
import io.gantry.engine.gguf.GgufWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Converts a model file's matrices to other formats: every tensor of two or more dimensions in a float format
 * (F32, F16, BF16) is decoded and re-encoded in the format its {@link FileType} gives it, with ggml's reference
 * quantizers; one-dimensional tensors (norms, biases) stay as they are, as GGUF readers expect. Metadata is copied in
 * order, with {@code general.file_type} set to the new file type (and {@code general.quantization_version} added
 * after it for a quantized one), so quantizing a {@linkplain ModelSynthesizer synthesised} F16 model gives the same
 * bytes as synthesising it in the target file type.
 */
public final class ModelQuantizer {

    static final String QUANTIZATION_VERSION_KEY = "general.quantization_version";
    /** ggml's {@code GGML_QNT_VERSION}: the current layout of the quantized formats. */
    static final int QUANTIZATION_VERSION = 2;
    private static final String FILE_TYPE_KEY = "general.file_type";

    /**
     * The converted file.
     *
     * @param written        the file
     * @param converted      tensors written in a new format
     * @param keptAsInSource matrices left in their own format because their rows are not a whole number of the new
     *                       format's blocks
     */
    public record Result(WrittenModel written, int converted, List<String> keptAsInSource) {
    }

    private ModelQuantizer() {
    }

    /**
     * @param input   the model to convert; its matrices in F32, F16, BF16 or already in the format {@code target}
     *                gives them
     * @param target  the new formats of the matrices
     * @param output  the file to write, replaced if it exists
     * @param threads threads that convert
     * @return what was written
     * @throws IllegalArgumentException if a matrix is in a quantized format other than the one {@code target} gives
     *                                  it (converting quantized weights again loses precision: start from the F16
     *                                  file)
     * @throws IOException              if the file cannot be written
     */
    public static Result quantize(GgufFile input, FileType target, Path output, int threads) throws IOException {
        GgufWriter writer = new GgufWriter();
        for (Map.Entry<String, GgufValue> entry : input.metadata().entrySet()) {
            String key = entry.getKey();
            if (key.equals(FILE_TYPE_KEY)) {
                putFileType(writer, target, input);
            } else if (!key.equals(QUANTIZATION_VERSION_KEY) || target.quantized()) {
                writer.put(key, entry.getValue());
            }
        }
        if (!input.has(FILE_TYPE_KEY)) {
            putFileType(writer, target, input);
        }

        int layers = 0;
        boolean hasOutput = false;
        for (GgufTensorInfo info : input.tensorInfos()) {
            layers = Math.max(layers, FileType.layerOf(info.name()) + 1);
            hasOutput |= info.name().equals("output.weight");
        }
        List<ModelFiles.PlannedTensor> tensors = new ArrayList<>();
        List<String> kept = new ArrayList<>();
        int converted = 0;
        for (GgufTensorInfo info : input.tensorInfos()) {
            HostTensor tensor = input.tensor(info.name());
            boolean matrix = info.dims().length >= 2;
            TensorType type = target.matrixType(info.name(), layers, hasOutput);
            if (!matrix || tensor.type() == type) {
                tensors.add(ModelFiles.PlannedTensor.copied(tensor, info.dims()));
            } else if (!TensorEncoding.DECODABLE.contains(tensor.type())) {
                throw new IllegalArgumentException(input.name() + ": tensor '" + info.name() + "' is " + tensor.type()
                        + "; Gantry converts matrices from " + TensorEncoding.DECODABLE + " (start from the F16 file)");
            } else if (tensor.cols() % type.blockElements() != 0) {
                kept.add(info.name());
                tensors.add(ModelFiles.PlannedTensor.copied(tensor, info.dims()));
            } else {
                converted++;
                tensors.add(ModelFiles.PlannedTensor.encoded(info.name(), type, RowSource.decoded(tensor),
                        info.dims()));
            }
        }
        return new Result(ModelFiles.write(writer, tensors, output, threads), converted, List.copyOf(kept));
    }

    /**
     * Writes {@code general.file_type}, and after it {@code general.quantization_version} for a quantized target
     * where the input does not have it (a quantized input's own is copied in its place).
     */
    private static void putFileType(GgufWriter writer, FileType target, GgufFile input) {
        writer.putUInt32(FILE_TYPE_KEY, target.number());
        if (target.quantized() && !input.has(QUANTIZATION_VERSION_KEY)) {
            writer.putUInt32(QUANTIZATION_VERSION_KEY, QUANTIZATION_VERSION);
        }
    }
}
