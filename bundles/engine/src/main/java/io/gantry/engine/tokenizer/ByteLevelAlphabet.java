package io.gantry.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's {@code bytes_to_unicode}: every byte gets a printable character (printable Latin-1 bytes stand for
 * themselves, the rest map to U+0100 onwards), so that byte-level BPE tokens are ordinary strings.
 */
final class ByteLevelAlphabet {

    private static final char[] CHAR_OF_BYTE = new char[256];
    private static final int[] BYTE_OF_CHAR = new int[512];

    static {
        Arrays.fill(BYTE_OF_CHAR, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            CHAR_OF_BYTE[b] = c;
            BYTE_OF_CHAR[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** @return the text's UTF-8 bytes, each written as its alphabet character */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = CHAR_OF_BYTE[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    /**
     * @return the bytes a byte-level token stands for; characters outside the alphabet, which only a malformed
     *         vocabulary has, stand for their own UTF-8 bytes
     */
    static byte[] decode(String token) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(token.length());
        for (int i = 0; i < token.length(); ) {
            int codePoint = token.codePointAt(i);
            int b = codePoint < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[codePoint] : -1;
            if (b >= 0) {
                bytes.write(b);
            } else {
                bytes.writeBytes(Character.toString(codePoint).getBytes(StandardCharsets.UTF_8));
            }
            i += Character.charCount(codePoint);
        }
        return bytes.toByteArray();
    }
}
