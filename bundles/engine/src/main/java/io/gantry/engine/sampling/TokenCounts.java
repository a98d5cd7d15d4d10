package io.gantry.engine.sampling;

import java.util.Arrays;

/**
 * Distinct tokens with a count each, in first-seen order: an open-addressing hash map whose entries can be
 * walked by index. A request's history holds a few thousand distinct tokens at most, so this takes kilobytes
 * where a count per vocabulary entry would take hundreds per request. Not thread-safe.
 */
final class TokenCounts {

    private int[] tokens = new int[16];
    private int[] counts = new int[16];
    private int size;
    /** Per hash slot, the entry's index plus one; 0 marks a free slot. At most half full, a power of two long. */
    private int[] slots = new int[32];

    /** Adds {@code count} to the token's count, adding the token first if it is new. */
    void add(int token, int count) {
        int mask = slots.length - 1;
        int slot = hash(token) & mask;
        while (slots[slot] != 0) {
            int entry = slots[slot] - 1;
            if (tokens[entry] == token) {
                counts[entry] += count;
                return;
            }
            slot = (slot + 1) & mask;
        }
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, size * 2);
            counts = Arrays.copyOf(counts, size * 2);
        }
        tokens[size] = token;
        counts[size] = count;
        slots[slot] = ++size;
        if (size * 2 > slots.length) {
            rehash();
        }
    }

    /** @return the number of distinct tokens */
    int size() {
        return size;
    }

    /** @return the token of entry {@code i}, {@code 0 <= i < size()} */
    int token(int i) {
        return tokens[i];
    }

    /** @return the count of entry {@code i} */
    int count(int i) {
        return counts[i];
    }

    private void rehash() {
        slots = new int[slots.length * 2];
        int mask = slots.length - 1;
        for (int entry = 0; entry < size; entry++) {
            int slot = hash(tokens[entry]) & mask;
            while (slots[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            slots[slot] = entry + 1;
        }
    }

    private static int hash(int token) {
        int h = token * 0x9E3779B9;
        return h ^ (h >>> 16);
    }
}
