package io.gantry.engine.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BpePreTokenizerTest {

    @Test
    void gpt2KeepsNumbersTogetherAndLeavesOneSpaceBeforeAWord() {
        assertEquals(List.of("Hello", " world", "'s", "  ", " 12345", "!!", "\n\t"),
                BpePreTokenizer.GPT2.split("Hello world's   12345!!\n\t"));
    }

    @Test
    void llama3GroupsDigitsByThreeAndContractionsIgnoreCase() {
        assertEquals(List.of("123", "45", " abc", "\n\n", "DEF", "'S", " ?!\n"),
                BpePreTokenizer.LLAMA3.split("12345 abc\n\nDEF'S ?!\n"));
    }

    @Test
    void qwen2SplitsEveryDigit() {
        assertEquals(List.of("1", "2", "3", " abc"), BpePreTokenizer.QWEN2.split("123 abc"));
    }

    @Test
    void starcoderSplitsDigitsBeforeTheGpt2Rules() {
        assertEquals(List.of("a", "1", "2", " b"), BpePreTokenizer.STARCODER.split("a12 b"));
    }

    @Test
    void unicodeSpacesAreSpaces() {
        assertEquals(List.of("a", "\u3000", "b", "\u00A0\u00A0", " c"), BpePreTokenizer.GPT2.split("a\u3000b\u00A0\u00A0 c"));
    }

    @Test
    void supportedNamesIncludeTheCommonOnes() {
        assertEquals(BpePreTokenizer.GPT2, BpePreTokenizer.named("gpt-2").orElseThrow());
        assertEquals(BpePreTokenizer.LLAMA3, BpePreTokenizer.named("llama-bpe").orElseThrow());
        assertEquals(BpePreTokenizer.QWEN2, BpePreTokenizer.named("qwen2").orElseThrow());
        assertEquals(BpePreTokenizer.STARCODER, BpePreTokenizer.named("smollm").orElseThrow());
    }

    /** Very long runs must neither overflow the regex engine's stack nor take quadratic time. */
    @ParameterizedTest
    @EnumSource(BpePreTokenizer.class)
    void longRunsSplitWithoutTrouble(BpePreTokenizer preTokenizer) {
        String text = " ".repeat(100_000) + "x" + "\n".repeat(100_000) + "y".repeat(100_000) + "!".repeat(100_000);
        assertEquals(text, String.join("", preTokenizer.split(text)));
    }
}
