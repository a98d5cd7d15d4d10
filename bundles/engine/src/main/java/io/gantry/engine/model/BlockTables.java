package io.gantry.engine.model;

/**
 * The simplest KV layout, for tests and the command line: each sequence gets enough consecutive blocks for
 * its whole length, after the previous sequence's. The engine's step loop uses a {@code KvCacheAllocator}
 * instead, which shares the pool between sequences as they come and go.
 */
public final class BlockTables {

    private BlockTables() {
    }

    /**
     * @param lengths       the most positions each sequence will hold
     * @param blockSize     token slots per block
     * @param capacitySlots token slots in the KV pool
     * @return one block table per sequence
     * @throws IllegalArgumentException if the sequences do not fit the pool together
     */
    public static int[][] consecutive(int[] lengths, int blockSize, int capacitySlots) {
        int[][] tables = new int[lengths.length][];
        int next = 0;
        for (int s = 0; s < lengths.length; s++) {
            tables[s] = new int[Math.ceilDiv(lengths[s], blockSize)];
            for (int b = 0; b < tables[s].length; b++) {
                tables[s][b] = next++;
            }
        }
        if ((long) next * blockSize > capacitySlots) {
            throw new IllegalArgumentException(lengths.length + " sequences need " + next + " blocks of " + blockSize
                    + " slots, more than the KV pool's " + capacitySlots + " slots");
        }
        return tables;
    }
}
