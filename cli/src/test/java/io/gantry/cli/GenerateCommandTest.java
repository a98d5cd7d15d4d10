package io.gantry.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End to end on the one real trained model, stories260K, whose greedy output from BOS is known. */
class GenerateCommandTest {

    private static String referenceText() throws Exception {
        List<String> lines = Files.readAllLines(Cli.sharedModel("stories260K.expected.txt"));
        return String.join("\n", lines.subList(lines.indexOf("TEXT:") + 1, lines.size()));
    }

    @Test
    void greedyFromBosAloneReproducesTheReference() throws Exception {
        Cli.Run run = Cli.run("generate", "--model", Cli.sharedModel("stories260K.gguf").toString(), "--prompt", "",
                "--temperature", "0", "--max-tokens", "48", "--threads", "2");
        assertEquals(0, run.exitCode(), run.toString());
        String text = run.out().substring(0, run.out().length() - 1); // the final newline
        assertTrue(text.startsWith("Once upon a time, there was a little girl named Lily."), text);
        assertTrue(referenceText().startsWith(text), "not a prefix of the reference: " + text);
        assertTrue(run.err().contains("gantry: prompt 1 tokens in "), run.err());
        assertTrue(run.err().contains("generated 48 tokens, 47 after the first in "), run.err());
        assertTrue(run.err().contains("finished: length"), run.err());
    }

    @Test
    void continuesAPromptAndStopsAtAStopString() throws Exception {
        Cli.Run run = Cli.run("generate", "--model", Cli.sharedModel("stories260K.gguf").toString(), "--prompt",
                "Once upon a time", "--temperature", "0", "--max-tokens", "100", "--stop", "ball", "--stop", "park");
        assertEquals(0, run.exitCode(), run.toString());
        String reference = referenceText();
        assertEquals(reference.substring(0, reference.indexOf("park")) + "\n", run.out());
        assertTrue(run.err().contains("finished: stop"), run.err());
    }

    @Test
    void printsLogprobsPerToken() throws Exception {
        Cli.Run run = Cli.run("generate", "--model", Cli.sharedModel("stories260K.gguf").toString(), "--prompt", "",
                "--temperature", "0", "--max-tokens", "4", "--logprobs", "2");
        assertEquals(0, run.exitCode(), run.toString());
        List<String> lines = run.out().lines().toList();
        assertEquals(4, lines.size(), run.out());
        String[] first = lines.getFirst().split("\t");
        assertEquals("403", first[0], "the reference's first token");
        assertEquals("\" Once\"", first[2]);
        assertTrue(first[3].startsWith("\" Once\" " + first[1] + ", "), "greedy picks the most likely: " + first[3]);
    }
}
