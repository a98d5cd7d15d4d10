package io.gantry.cli;

/**
 * The 32-bit Mersenne Twister (MT19937), seeded and drawn the way Python's {@code random.Random(seed)} seeds and
 * draws it, so that a seeded workload is the same one the project's Python load generator
 * ({@code ../shared/tools/loadgen.py}) sends for that seed. Not thread-safe.
 */
final class PythonRandom {

    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] state = new int[N];
    private int next = N;

    /**
     * Seeds as {@code random.Random(seed)} does for a non-negative integer: the seed's 32-bit words, least
     * significant first, are the key of MT19937's array initialisation.
     *
     * @param seed a seed of at least 0
     */
    PythonRandom(long seed) {
        if (seed < 0) {
            throw new IllegalArgumentException("seed must be at least 0, got " + seed);
        }
        int high = (int) (seed >>> 32);
        initialiseByArray(high == 0 ? new int[] {(int) seed} : new int[] {(int) seed, high});
    }

    /** @return the next 32 random bits, as an unsigned value (Python's {@code getrandbits(32)}) */
    long nextUnsigned32() {
        if (next >= N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return Integer.toUnsignedLong(y);
    }

    /**
     * Python's {@code randrange(bound)} and {@code choice}: draws as many bits as {@code bound} has and rejects
     * values past it.
     *
     * @param bound between 1 and 2^31 - 1
     * @return a uniform value in {@code [0, bound)}
     */
    int below(int bound) {
        if (bound < 1) {
            throw new IllegalArgumentException("bound must be at least 1, got " + bound);
        }
        int bits = Integer.SIZE - Integer.numberOfLeadingZeros(bound);
        int value;
        do {
            value = (int) (nextUnsigned32() >>> (Integer.SIZE - bits));
        } while (value >= bound);
        return value;
    }

    private void initialiseByLinearRecurrence(int seed) {
        state[0] = seed;
        for (int i = 1; i < N; i++) {
            state[i] = 1812433253 * (state[i - 1] ^ (state[i - 1] >>> 30)) + i;
        }
    }

    private void initialiseByArray(int[] key) {
        initialiseByLinearRecurrence(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                state[0] = state[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                state[0] = state[N - 1];
                i = 1;
            }
        }
        state[0] = UPPER_MASK;
        next = N;
    }

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (state[k] & UPPER_MASK) | (state[(k + 1) % N] & LOWER_MASK);
            state[k] = state[(k + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        next = 0;
    }
}
