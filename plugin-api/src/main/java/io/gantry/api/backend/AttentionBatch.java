package io.gantry.api.backend;

/**
 * Which rows of a step belong to which sequence, and where each sequence's KV lives. Rows of one
 * sequence are contiguous and hold consecutive positions; row {@code r} of sequence {@code s} is at
 * position {@code startPositions[s] + (r - firstRows[s])} and attends to positions {@code 0..} its own.
 *
 * <p>Arrays are owned by the engine and reused between steps: a backend reads them during the call
 * and keeps no reference.
 *
 * @param sequences      number of sequences in the step
 * @param firstRows      per sequence: its first row in the step's activations
 * @param rowCounts      per sequence: how many rows (tokens) it feeds this step
 * @param startPositions per sequence: the position of its first row (= tokens already in its KV)
 * @param blockTables    per sequence: its block table, physical block ids of the KV pool
 * @param blockSize      token slots per block
 */
public record AttentionBatch(int sequences, int[] firstRows, int[] rowCounts, int[] startPositions,
        int[][] blockTables, int blockSize) {

    /** @return the total number of rows in the step */
    public int rows() {
        int rows = 0;
        for (int s = 0; s < sequences; s++) {
            rows += rowCounts[s];
        }
        return rows;
    }

    /**
     * @param sequence the sequence index in this batch
     * @param position one of its positions
     * @return the KV pool slot that holds it
     */
    public int slot(int sequence, int position) {
        return blockTables[sequence][position / blockSize] * blockSize + position % blockSize;
    }
}
