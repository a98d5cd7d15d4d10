package io.gantry.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gantry.api.backend.AttentionBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The packed layout maps every (row, position) to the slot {@link AttentionBatch#slot} gives. */
class BatchLayoutTest {

    /** @return a step of prefill chunks and decode rows over shuffled blocks of a pool of {@code blocks} blocks */
    static AttentionBatch randomBatch(Random random, int sequences, int blockSize, int blocks) {
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, random);
        int[] first = new int[sequences];
        int[] counts = new int[sequences];
        int[] starts = new int[sequences];
        int[][] tables = new int[sequences][];
        int row = 0;
        for (int s = 0; s < sequences; s++) {
            first[s] = row;
            counts[s] = random.nextBoolean() ? 1 : 1 + random.nextInt(20);
            starts[s] = random.nextInt(40);
            row += counts[s];
            int needed = (starts[s] + counts[s] + blockSize - 1) / blockSize;
            tables[s] = new int[needed + random.nextInt(3)]; // tables may be longer than the step needs
            for (int b = 0; b < tables[s].length; b++) {
                tables[s][b] = free.removeLast();
            }
        }
        return new AttentionBatch(sequences, first, counts, starts, tables, blockSize);
    }

    @Test
    void slotsMatchTheBatchForEveryVisiblePosition() {
        Random random = new Random(3);
        for (int trial = 0; trial < 50; trial++) {
            int blockSize = 1 + random.nextInt(16);
            AttentionBatch batch = randomBatch(random, 1 + random.nextInt(6), blockSize, 200);
            BatchLayout layout = BatchLayout.pack(batch, 200L * blockSize, null);
            assertEquals(batch.rows(), layout.rows());
            int maxPosition = 0;
            for (int s = 0; s < batch.sequences(); s++) {
                for (int r = 0; r < batch.rowCounts()[s]; r++) {
                    int row = batch.firstRows()[s] + r;
                    int position = batch.startPositions()[s] + r;
                    assertEquals(s, layout.ints()[row]);
                    assertEquals(position, layout.ints()[layout.rows() + row]);
                    maxPosition = Math.max(maxPosition, position);
                    for (int t = 0; t <= position; t++) {
                        assertEquals(batch.slot(s, t), layout.slot(row, t), "sequence " + s + " position " + t);
                    }
                }
            }
            assertEquals(maxPosition, layout.maxPosition());
        }
    }

    @Test
    void equalBatchesAreRecognisedSoTheyUploadOnce() {
        AttentionBatch batch = randomBatch(new Random(5), 4, 8, 64);
        BatchLayout first = BatchLayout.pack(batch, 512, null);
        BatchLayout again = BatchLayout.pack(batch, 512, new int[1]);
        assertTrue(again.sameAs(first));
        int[][] tables = batch.blockTables();
        int swapped = tables[0][0];
        tables[0][0] = tables[1][0];
        tables[1][0] = swapped;
        assertFalse(BatchLayout.pack(batch, 512, null).sameAs(first));
    }

    @Test
    void slotsOutsideThePoolAndShortTablesAreRefused() {
        AttentionBatch outside = new AttentionBatch(1, new int[] {0}, new int[] {3}, new int[] {0},
                new int[][] {{4}}, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchLayout.pack(outside, 18, null));
        assertTrue(e.getMessage().contains("slot 18, outside the KV pool's 18 slots"), e.getMessage());
        BatchLayout.pack(outside, 19, null);

        AttentionBatch shortTable = new AttentionBatch(1, new int[] {0}, new int[] {2}, new int[] {3},
                new int[][] {{0}}, 4);
        e = assertThrows(IllegalArgumentException.class, () -> BatchLayout.pack(shortTable, 100, null));
        assertTrue(e.getMessage().contains("has 1 blocks; positions up to 4 need 2"), e.getMessage());
    }
}
