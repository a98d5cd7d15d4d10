package io.gantry.backend.cpu;

import io.gantry.api.backend.AttentionBatch;
import java.util.Arrays;

/**
 * The sequence and position of every row of a step, checked against the batch's own description.
 *
 * @param sequence per row: its sequence index in the batch
 * @param position per row: its token position in that sequence
 */
record BatchRows(int[] sequence, int[] position) {

    /**
     * @param batch the step's batch
     * @return its rows
     * @throws IllegalArgumentException if the sequences do not cover rows {@code 0 .. rows-1} exactly once
     */
    static BatchRows of(AttentionBatch batch) {
        int rows = batch.rows();
        int[] sequence = new int[rows];
        int[] position = new int[rows];
        Arrays.fill(sequence, -1);
        for (int s = 0; s < batch.sequences(); s++) {
            int first = batch.firstRows()[s];
            int count = batch.rowCounts()[s];
            if (first < 0 || count < 0 || first + count > rows || batch.startPositions()[s] < 0) {
                throw new IllegalArgumentException("Sequence " + s + " of the batch has rows " + first + "+" + count
                        + " at position " + batch.startPositions()[s] + ", outside the step's " + rows + " rows");
            }
            for (int j = 0; j < count; j++) {
                if (sequence[first + j] >= 0) {
                    throw new IllegalArgumentException("Row " + (first + j) + " belongs to sequences "
                            + sequence[first + j] + " and " + s);
                }
                sequence[first + j] = s;
                position[first + j] = batch.startPositions()[s] + j;
            }
        }
        return new BatchRows(sequence, position);
    }

    /** @return the number of rows */
    int rows() {
        return sequence.length;
    }

    /** @return the highest position of any row, or -1 for none */
    int maxPosition() {
        int max = -1;
        for (int p : position) {
            max = Math.max(max, p);
        }
        return max;
    }
}
