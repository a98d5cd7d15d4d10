package io.gantry.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * llama.cpp's SentencePiece ("llama") algorithm: spaces become {@code ▁}, a space is put before text that starts
 * the input or follows a special token, then adjacent symbols (initially single characters) are merged, highest
 * scoring merge first, as long as the merged text is a token. Characters that no token covers fall back to
 * {@code <0xNN>} byte tokens. Runs in O(n log n) for n characters. Immutable.
 */
final class SentencePieceEncoder implements FragmentEncoder {

    private static final char SPACE_MARK = '\u2581';

    private final Vocabulary vocabulary;
    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256];
    /** Two symbols merge where their text is a token; a merge is that token, the highest score first. */
    private final SymbolMerger.Rule mergeRule = new SymbolMerger.Rule() {
        @Override
        public int merge(String text, int start, int leftLength, int rightLength) {
            return vocabulary.id(text.substring(start, start + leftLength + rightLength));
        }

        @Override
        public int compare(int a, int b) {
            float scoreA = vocabulary.score(a);
            float scoreB = vocabulary.score(b);
            return scoreA != scoreB ? Float.compare(scoreB, scoreA) : 0;
        }
    };

    /**
     * @param vocabulary the tokens with their scores
     * @param addSpacePrefix whether to put a space before text ({@code tokenizer.ggml.add_space_prefix})
     * @param unknownId the token for bytes that have no byte token, or -1 to drop them
     */
    SentencePieceEncoder(Vocabulary vocabulary, boolean addSpacePrefix, int unknownId) {
        this.vocabulary = vocabulary;
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            int id = vocabulary.id(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) {
                id = vocabulary.id(String.valueOf((char) b)); // vocabularies without byte tokens, as llama.cpp allows
            }
            byteTokens[b] = id >= 0 ? id : unknownId;
        }
    }

    @Override
    public void encode(String fragment, boolean startsText, IntList out) {
        String text = (addSpacePrefix && startsText ? " " + fragment : fragment).replace(' ', SPACE_MARK);
        int count = text.codePointCount(0, text.length());
        int[] start = new int[count];
        int[] length = new int[count];
        for (int i = 0, offset = 0; i < count; i++) {
            start[i] = offset;
            length[i] = Character.charCount(text.codePointAt(offset));
            offset += length[i];
        }
        int[] next = SymbolMerger.merge(text, start, length, mergeRule);
        for (int i = 0; i >= 0 && count > 0; i = next[i]) {
            String symbol = text.substring(start[i], start[i] + length[i]);
            int id = vocabulary.id(symbol);
            if (id >= 0) {
                out.add(id);
            } else {
                appendBytes(symbol, out);
            }
        }
    }

    private void appendBytes(String symbol, IntList out) {
        for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
            int id = byteTokens[b & 0xFF];
            if (id >= 0) {
                out.add(id);
            }
        }
    }

    @Override
    public byte[] pieceBytes(String text, TokenType type) {
        if (type == TokenType.BYTE && text.length() == 6 && text.startsWith("<0x") && text.endsWith(">")
                && HexFormat.isHexDigit(text.charAt(3)) && HexFormat.isHexDigit(text.charAt(4))) {
            return new byte[] {(byte) HexFormat.fromHexDigits(text, 3, 5)};
        }
        return text.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean addsSpacePrefix() {
        return addSpacePrefix;
    }
}
