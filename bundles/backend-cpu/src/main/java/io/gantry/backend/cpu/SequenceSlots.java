package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;

/**
 * Where the positions of one sequence of a step lie in the KV pool, from its block table, in position order:
 * <ul>
 * <li>runs: consecutive positions in consecutive slots of one block, at most {@link #MAX_RUN} of them;</li>
 * <li>subtiles: the groups of {@link Simd#LANES} slots, aligned to that width, that cover each run. The attention
 * kernels compute the scores of a subtile's slots in one vector ({@link CpuKvPool}'s key tiles), lane {@code i} for
 * position {@link #subtilePosition} {@code + i}; lanes before {@link #subtileFirstLane} precede the run (and
 * belong to other positions or other sequences), as may lanes after the run.</li>
 * </ul>
 */
final class SequenceSlots {

    /**
     * Positions per run at most: a run's values (16 KiB of F32 for 64-element heads) stay in the core's L1 cache
     * while every query of an attention task adds them.
     */
    private static final int MAX_RUN = 64;

    private final int[] runPosition;
    private final int[] runSlot;
    private final int[] runLength;
    private final int runs;
    private final int[] subtilePosition;
    private final int[] subtileFirstLane;
    private final long[] subtileElement;
    private final int subtiles;

    private SequenceSlots(int[] runPosition, int[] runSlot, int[] runLength, int runs, int[] subtilePosition,
            int[] subtileFirstLane, long[] subtileElement, int subtiles) {
        this.runPosition = runPosition;
        this.runSlot = runSlot;
        this.runLength = runLength;
        this.runs = runs;
        this.subtilePosition = subtilePosition;
        this.subtileFirstLane = subtileFirstLane;
        this.subtileElement = subtileElement;
        this.subtiles = subtiles;
    }

    /**
     * @return the slots of positions {@code 0 ..} the last row of {@code sequence} in the batch
     * @throws IllegalArgumentException if its block table maps one of them outside the pool
     */
    static SequenceSlots of(CpuKvPool kv, AttentionBatch batch, int sequence) {
        int length = batch.startPositions()[sequence] + batch.rowCounts()[sequence];
        int blockSize = batch.blockSize();
        int capacity = kv.spec().capacitySlots();
        // A run ends at a block's end or after MAX_RUN positions; it spans at most two subtiles more than its
        // length fills.
        int maxRuns = Math.ceilDiv(length, blockSize) + Math.ceilDiv(length, MAX_RUN);
        int[] runPosition = new int[maxRuns];
        int[] runSlot = new int[maxRuns];
        int[] runLength = new int[maxRuns];
        int maxSubtiles = Math.ceilDiv(length, Simd.LANES) + 2 * maxRuns;
        int[] subtilePosition = new int[maxSubtiles];
        int[] subtileFirstLane = new int[maxSubtiles];
        long[] subtileElement = new long[maxSubtiles];
        int runs = 0;
        int subtiles = 0;
        for (int position = 0; position < length; ) {
            int block = position / blockSize;
            int within = position - block * blockSize;
            int slot = blockStart(batch, sequence, block, capacity) + within;
            int count = Math.min(Math.min(blockSize - within, length - position), MAX_RUN);
            runPosition[runs] = position;
            runSlot[runs] = slot;
            runLength[runs] = count;
            runs++;
            for (int first = slot - slot % Simd.LANES; first < slot + count; first += Simd.LANES) {
                subtilePosition[subtiles] = position + first - slot;
                subtileFirstLane[subtiles] = Math.max(0, slot - first);
                subtileElement[subtiles] = kv.keyElement(first);
                subtiles++;
            }
            position += count;
        }
        return new SequenceSlots(runPosition, runSlot, runLength, runs, subtilePosition, subtileFirstLane,
                subtileElement, subtiles);
    }

    /**
     * @return the slot of a sequence's position
     * @throws IllegalArgumentException if the sequence's block table does not map it inside the pool
     */
    static int slot(AttentionBatch batch, int sequence, int position, int capacity) {
        return blockStart(batch, sequence, position / batch.blockSize(), capacity) + position % batch.blockSize();
    }

    /**
     * @return the first slot of a block of a sequence
     * @throws IllegalArgumentException if the sequence's block table does not map the whole block inside the pool
     */
    private static int blockStart(AttentionBatch batch, int sequence, int block, int capacity) {
        int[] table = batch.blockTables()[sequence];
        long start = block < table.length ? (long) table[block] * batch.blockSize() : -1;
        if (start < 0 || start + batch.blockSize() > capacity) {
            throw new IllegalArgumentException("The block table of sequence " + sequence + " maps block " + block
                    + " outside the KV pool's " + capacity + " slots");
        }
        return (int) start;
    }

    /** @return how many runs start before position {@code length} */
    int runsBefore(int length) {
        int count = runs;
        while (count > 0 && runPosition[count - 1] >= length) {
            count--;
        }
        return count;
    }

    /** @return how many subtiles hold a position before {@code length} */
    int subtilesBefore(int length) {
        int count = subtiles;
        while (count > 0 && subtilePosition[count - 1] + subtileFirstLane[count - 1] >= length) {
            count--;
        }
        return count;
    }

    /** @return the first position of a run */
    int runPosition(int run) {
        return runPosition[run];
    }

    /** @return the slot of a run's first position */
    int runSlot(int run) {
        return runSlot[run];
    }

    /** @return the positions of a run */
    int runLength(int run) {
        return runLength[run];
    }

    /** @return the position that a subtile's lane 0 stands for (before its run's first one if the lane does not) */
    int subtilePosition(int subtile) {
        return subtilePosition[subtile];
    }

    /** @return a subtile's first lane that holds a position of its run */
    int subtileFirstLane(int subtile) {
        return subtileFirstLane[subtile];
    }

    /** @return a subtile's first key element within its head ({@link CpuKvPool#keyElement}) */
    long subtileElement(int subtile) {
        return subtileElement[subtile];
    }
}
