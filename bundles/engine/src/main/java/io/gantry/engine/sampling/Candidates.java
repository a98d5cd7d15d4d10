package io.gantry.engine.sampling;

/**
 * Tokens packed with their logits into one {@code long} each, ordered by logit and, among equal logits, with
 * the lower id first (as an argmax picks it). Candidate lists then sort with {@code Arrays.sort(long[])} and
 * compare with one instruction, without boxing or index arrays.
 */
final class Candidates {

    private Candidates() {
    }

    /** @return the key of {@code id} with {@code logit}: larger keys for larger logits */
    static long key(float logit, int id) {
        return ((long) sortable(Float.floatToRawIntBits(logit)) << 32) | (Integer.MAX_VALUE - id);
    }

    /** @return the logit packed in {@code key} */
    static float logit(long key) {
        return Float.intBitsToFloat(sortable((int) (key >>> 32)));
    }

    /** @return the token id packed in {@code key} */
    static int id(long key) {
        return Integer.MAX_VALUE - (int) key;
    }

    /** Flips the magnitude bits of negative floats so that their bits order as ints like the floats do; its own inverse. */
    private static int sortable(int floatBits) {
        return floatBits ^ ((floatBits >> 31) & Integer.MAX_VALUE);
    }

    /**
     * Selects the {@code n} largest of {@code count} logits into {@code out[0..n)}, largest first.
     *
     * <p>A min-heap of the best {@code n} so far costs O(count log n), and most tokens are rejected by a single
     * comparison with its root, where sorting the vocabulary would cost O(count log count).
     *
     * @param n at least 1 and at most {@code count}
     */
    static void selectTop(float[] logits, int offset, int count, int n, long[] out) {
        for (int i = 0; i < n; i++) {
            out[i] = key(logits[offset + i], i);
        }
        for (int i = n / 2 - 1; i >= 0; i--) {
            siftDown(out, i, n);
        }
        float smallest = logit(out[0]);
        for (int i = n; i < count; i++) {
            float logit = logits[offset + i];
            if (logit > smallest) { // ties keep the root: its id is lower
                out[0] = key(logit, i);
                siftDown(out, 0, n);
                smallest = logit(out[0]);
            }
        }
        for (int end = n - 1; end > 0; end--) { // heap sort: each minimum goes behind the shrinking heap
            long min = out[0];
            out[0] = out[end];
            out[end] = min;
            siftDown(out, 0, end);
        }
    }

    private static void siftDown(long[] heap, int i, int size) {
        long item = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] < heap[child]) {
                child++;
            }
            if (heap[child] >= item) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }
}
