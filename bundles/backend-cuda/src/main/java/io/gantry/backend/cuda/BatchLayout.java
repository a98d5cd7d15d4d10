package io.gantry.backend.cuda;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;

/**
 * An {@link AttentionBatch} flattened into the one int array the rope, store_kv and attention kernels read:
 * {@code rowSequence[rows]}, {@code rowPosition[rows]}, {@code sequenceTableOffset[sequences]}, then every
 * sequence's block table (only the blocks its positions reach). The kernels find a slot as
 * {@code tables[offset[s] + position / blockSize] * blockSize + position % blockSize}, the same mapping as
 * {@link AttentionBatch#slot}.
 *
 * <p>Packing checks everything the kernels would otherwise read out of bounds: rows laid out as the batch
 * says, block tables long enough, every slot inside the pool.
 *
 * @param ints      the packed array (its first {@link #length} ints)
 * @param length    ints in use
 * @param rows      rows of the step
 * @param sequences sequences of the step
 * @param blockSize token slots per block
 */
record BatchLayout(int[] ints, int length, int rows, int sequences, int blockSize) {

    /**
     * @param batch    the step's batch
     * @param capacity the KV pool's slots per layer, which every referenced slot must fall inside
     * @param reuse    an array to pack into if it is large enough, or {@code null}
     * @return the packed layout
     * @throws IllegalArgumentException if the batch is inconsistent or maps a position outside the pool
     */
    static BatchLayout pack(AttentionBatch batch, long capacity, int[] reuse) {
        int sequences = batch.sequences();
        int rows = batch.rows();
        int blockSize = batch.blockSize();
        if (blockSize < 1) {
            throw new IllegalArgumentException("Block size must be positive, got " + blockSize);
        }
        int length = 2 * rows + sequences;
        for (int s = 0; s < sequences; s++) {
            length = Math.addExact(length, blocksNeeded(batch, s));
        }
        int[] ints = reuse != null && reuse.length >= length ? reuse : new int[length];
        int tables = 2 * rows + sequences;
        int tableOffset = 0;
        for (int s = 0; s < sequences; s++) {
            int first = batch.firstRows()[s];
            int count = batch.rowCounts()[s];
            int start = batch.startPositions()[s];
            if (first < 0 || count < 0 || start < 0 || first + count > rows) {
                throw new IllegalArgumentException("Sequence " + s + " claims rows " + first + ".." + (first + count)
                        + " from position " + start + " in a step of " + rows + " rows");
            }
            for (int r = 0; r < count; r++) {
                ints[first + r] = s;
                ints[rows + first + r] = start + r;
            }
            int blocks = blocksNeeded(batch, s);
            int[] table = batch.blockTables()[s];
            if (table.length < blocks) {
                throw new IllegalArgumentException("The block table of sequence " + s + " has " + table.length
                        + " blocks; positions up to " + (start + count - 1) + " need " + blocks);
            }
            int lastPosition = start + count - 1;
            for (int b = 0; b < blocks; b++) {
                int lastInBlock = Math.min(lastPosition, (b + 1) * blockSize - 1);
                long lastSlot = (long) table[b] * blockSize + lastInBlock % blockSize;
                if (table[b] < 0 || lastSlot >= capacity) {
                    throw new IllegalArgumentException("The block table of sequence " + s + " maps position "
                            + lastInBlock + " to slot " + lastSlot + ", outside the KV pool's " + capacity + " slots");
                }
            }
            ints[2 * rows + s] = tableOffset;
            System.arraycopy(table, 0, ints, tables + tableOffset, blocks);
            tableOffset += blocks;
        }
        return new BatchLayout(ints, length, rows, sequences, blockSize);
    }

    /** @return whether {@code other} holds the same packed contents (then its device copy can be reused) */
    boolean sameAs(BatchLayout other) {
        return other != null && rows == other.rows && sequences == other.sequences && blockSize == other.blockSize
                && Arrays.equals(ints, 0, length, other.ints, 0, other.length);
    }

    /** @return the highest position of any row */
    int maxPosition() {
        int max = 0;
        for (int r = 0; r < rows; r++) {
            max = Math.max(max, ints[rows + r]);
        }
        return max;
    }

    /** @return the slot of {@code row}'s sequence at {@code position}, read from the packed array as the kernels do */
    int slot(int row, int position) {
        int sequence = ints[row];
        int offset = ints[2 * rows + sequence];
        return ints[2 * rows + sequences + offset + position / blockSize] * blockSize + position % blockSize;
    }

    private static int blocksNeeded(AttentionBatch batch, int sequence) {
        int positions = batch.startPositions()[sequence] + batch.rowCounts()[sequence];
        return (positions + batch.blockSize() - 1) / batch.blockSize();
    }
}
