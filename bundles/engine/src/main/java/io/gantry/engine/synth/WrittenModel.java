package io.gantry.engine.synth;

import java.nio.file.Path;

/**
 * A model file Gantry wrote.
 *
 * @param path        where it is
 * @param parameters  the weights it holds, norms included
 * @param tensorBytes the bytes of its tensor data, without header and alignment padding
 * @param fileBytes   the file's size
 */
public record WrittenModel(Path path, long parameters, long tensorBytes, long fileBytes) {
}
