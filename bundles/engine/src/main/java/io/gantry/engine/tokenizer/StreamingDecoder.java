package io.gantry.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Decodes one sequence's tokens as they are generated, emitting only whole characters: when a character's
 * UTF-8 bytes are spread over several tokens (byte-fallback or byte-level tokens), its first bytes are held
 * back until the token that completes it arrives. Bytes that cannot become a valid character are emitted as
 * U+FFFD as soon as that is certain, and {@link #flush()} emits whatever is still held. Concatenating every
 * result gives the same text as {@link Tokenizer#decode(int[], boolean)}, except that a SentencePiece dummy
 * prefix space is kept: streamed tokens usually continue a prompt, where that space is real.
 *
 * <p>One instance per sequence; not thread-safe.
 */
public final class StreamingDecoder {

    private final Tokenizer tokenizer;
    private final boolean renderSpecial;
    private byte[] held = new byte[8];
    private int heldLength;

    /**
     * @param tokenizer the sequence's tokenizer
     * @param renderSpecial whether control and unknown tokens appear as their text
     */
    public StreamingDecoder(Tokenizer tokenizer, boolean renderSpecial) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.renderSpecial = renderSpecial;
    }

    /**
     * @param tokenId the next token of the sequence
     * @return the text this token completes, possibly empty
     * @throws IllegalArgumentException if the id is outside the vocabulary
     */
    public String next(int tokenId) {
        byte[] piece = tokenizer.tokenBytes(tokenId, renderSpecial);
        if (heldLength + piece.length > held.length) {
            held = Arrays.copyOf(held, Math.max(held.length * 2, heldLength + piece.length));
        }
        System.arraycopy(piece, 0, held, heldLength, piece.length);
        heldLength += piece.length;
        int complete = completeLength();
        String text = new String(held, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(held, complete, held, 0, heldLength - complete);
        heldLength -= complete;
        return text;
    }

    /** @return the held bytes of an unfinished character, each invalid sequence as U+FFFD; the decoder is then empty */
    public String flush() {
        String text = new String(held, 0, heldLength, StandardCharsets.UTF_8);
        heldLength = 0;
        return text;
    }

    /** @return how many held bytes end before an unfinished but still possible UTF-8 character */
    private int completeLength() {
        int lead = heldLength - 1;
        while (lead >= 0 && lead >= heldLength - 3 && (held[lead] & 0xC0) == 0x80) {
            lead--; // skip continuation bytes back to the character's first byte
        }
        if (lead < 0 || (held[lead] & 0xC0) == 0x80) {
            return heldLength;
        }
        int first = held[lead] & 0xFF;
        int expected = first >= 0xF0 && first <= 0xF4 ? 4 : first >= 0xE0 && first <= 0xEF ? 3 : first >= 0xC2 && first <= 0xDF ? 2 : 1;
        return heldLength - lead < expected ? lead : heldLength;
    }
}
