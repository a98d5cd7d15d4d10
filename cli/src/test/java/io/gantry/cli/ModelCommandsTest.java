package io.gantry.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelCommandsTest {

    @TempDir
    Path folder;

    @Test
    void synthesisesAndQuantizesModelsThatGenerate() throws Exception {
        Path f16 = Cli.tinyModel(folder, "f16");
        Path quantized = folder.resolve("quantized-q4_0.gguf");
        Cli.Run quantize = Cli.run("model", "quantize", "--input", f16.toString(), "--type", "q4_0", "--output",
                quantized.toString());
        assertEquals(0, quantize.exitCode(), quantize.toString());
        assertTrue(quantize.out().startsWith("Wrote " + quantized + ": 16 matrices converted to q4_0"), quantize.out());
        assertArrayEquals(Files.readAllBytes(Cli.tinyModel(folder, "q4_0")), Files.readAllBytes(quantized),
                "synthesising q4_0 gives the quantized f16 model");

        Cli.Run generate = Cli.run("generate", "--model", quantized.toString(), "--prompt", "Once upon a time",
                "--max-tokens", "8", "--ignore-eos", "--seed", "3", "--threads", "2");
        assertEquals(0, generate.exitCode(), generate.toString());
        assertTrue(generate.out().startsWith("Once upon a time"), generate.out());
        assertTrue(generate.err().contains("generated 8 tokens"), generate.err());
    }

    @Test
    void synthReportsWhatItWrote() {
        Path vocabulary = Cli.sharedModel("stories260K.gguf");
        Path output = folder.resolve("named.gguf");
        Cli.Run run = Cli.run("model", "synth", "--dim", "32", "--layers", "1", "--heads", "2", "--ffn", "64",
                "--type", "q8_0", "--seed", "9", "--name", "tiny-test", "--vocab-from", vocabulary.toString(),
                "--output", output.toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().startsWith("Wrote " + output + ": tiny-test, llama dim 32, 1 layers, 2 heads, 2 KV heads, "
                + "ffn 64, context 4096, 0.04 M parameters, q8_0"), run.out());
        assertTrue(run.out().contains("seed 9"), run.out());
    }
}
