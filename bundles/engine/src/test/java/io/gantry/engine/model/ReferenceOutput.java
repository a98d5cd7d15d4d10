package io.gantry.engine.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A reference output file of ../shared/models: a {@code TOKEN_IDS...: [a, b, ...]} line and the text after
 * {@code TEXT:}, on the same line or on the lines that follow.
 *
 * @param ids  the reference token ids
 * @param text their decoded text, without the file's final newline
 */
record ReferenceOutput(int[] ids, String text) {

    static ReferenceOutput read(Path path) throws IOException {
        List<String> lines = Files.readAllLines(path);
        int[] ids = null;
        String text = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.startsWith("TOKEN_IDS")) {
                String list = line.substring(line.indexOf('[') + 1, line.lastIndexOf(']'));
                ids = Arrays.stream(list.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
            } else if (line.startsWith("TEXT:")) {
                String rest = line.substring("TEXT:".length()).strip();
                text = rest.isEmpty() ? String.join("\n", lines.subList(i + 1, lines.size())) : rest;
                break;
            }
        }
        if (ids == null || text == null) {
            throw new IOException(path + " has no TOKEN_IDS or TEXT section");
        }
        return new ReferenceOutput(ids, text);
    }
}
