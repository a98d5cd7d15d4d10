package io.gantry.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The prompts match the reference load generator's; expected values were printed by CPython 3.11's random. */
class WordPromptsTest {

    private static List<Long> draws(long seed, int count) {
        PythonRandom random = new PythonRandom(seed);
        return LongStream.range(0, count).map(i -> random.nextUnsigned32()).boxed().toList();
    }

    @Test
    void drawsWhatPythonsRandomDrawsForTheSameSeed() {
        // random.Random(seed).getrandbits(32)
        assertEquals(List.of(577090037L, 2444712010L, 3639700191L, 3445702192L, 3280387012L), draws(1, 5));
        assertEquals(List.of(3626764237L, 1654615998L, 3255389356L), draws(0, 3));
        assertEquals(List.of(2166296868L, 2220160828L, 1153647273L), draws((1L << 40) + 5, 3), "a two-word key");
        assertThrows(IllegalArgumentException.class, () -> new PythonRandom(-1));
    }

    @Test
    void makesTheReferenceGeneratorsPrompts() {
        // random.Random(1); [" ".join(rnd.choice(WORDS) for _ in range(8)) for _ in range(3)]
        assertEquals(36, WordPrompts.WORDS.size());
        WordPrompts prompts = new WordPrompts(8, 1);
        assertEquals(List.of("girl there in little it wanted share big", "to a it upon big and once wanted",
                "the play a day upon upon upon friend"), Stream.generate(prompts).limit(3).toList());
    }
}
