package io.gantry.engine.model;

import io.gantry.api.backend.AttentionBatch;

import java.util.Arrays;

/**
 * The input of one engine step: for each sequence in it, a run of its tokens (a whole or partial prompt, or
 * the one token to decode), where they start, its block table, and whether its last token's logits are
 * needed. Rows are laid out sequence after sequence, in the order of {@link #add}.
 *
 * <p>Reusable and not thread-safe: the step loop {@link #clear() clears} and refills one instance per step, so
 * a step allocates nothing. Block tables are referenced, not copied, and must not change until the step ran.
 */
public final class StepBatch {

    private final int blockSize;
    private final int[] tokens;
    private final int[] firstRows;
    private final int[] rowCounts;
    private final int[] startPositions;
    private final int[][] blockTables;
    private final int[] logitRows;
    private int sequences;
    private int rows;
    private int logitCount;

    /**
     * @param maxSequences the most sequences one step holds
     * @param maxRows      the most tokens one step holds
     * @param blockSize    token slots per KV block, as the block tables count them
     */
    public StepBatch(int maxSequences, int maxRows, int blockSize) {
        if (maxSequences < 1 || maxRows < maxSequences || blockSize < 1) {
            throw new IllegalArgumentException("A step batch needs 1 <= maxSequences <= maxRows and a positive block "
                    + "size, got " + maxSequences + ", " + maxRows + ", " + blockSize);
        }
        this.blockSize = blockSize;
        this.tokens = new int[maxRows];
        this.firstRows = new int[maxSequences];
        this.rowCounts = new int[maxSequences];
        this.startPositions = new int[maxSequences];
        this.blockTables = new int[maxSequences][];
        this.logitRows = new int[maxSequences];
    }

    /** Empties the batch for the next step. */
    public void clear() {
        Arrays.fill(blockTables, 0, sequences, null);
        sequences = 0;
        rows = 0;
        logitCount = 0;
    }

    /**
     * Adds a sequence's tokens {@code source[from .. from+count)} at positions {@code startPosition ..}.
     *
     * @param source        the sequence's tokens
     * @param from          the first one to run
     * @param count         how many to run, at least 1
     * @param startPosition the position of {@code source[from]}: how many tokens of the sequence are already in
     *                      the KV pool
     * @param blockTable    the sequence's KV blocks, covering at least {@code startPosition + count} positions
     * @param needsLogits   whether to compute logits for the last of these tokens
     * @return which row of {@link Transformer#forward}'s result holds the logits, or -1 if none are needed
     * @throws IllegalArgumentException if the batch is full or the arguments do not fit together
     */
    public int add(int[] source, int from, int count, int startPosition, int[] blockTable, boolean needsLogits) {
        if (sequences == firstRows.length || count < 1 || rows + count > tokens.length) {
            throw new IllegalArgumentException("Cannot add " + count + " tokens to a step of " + sequences + "/"
                    + firstRows.length + " sequences and " + rows + "/" + tokens.length + " rows");
        }
        if (startPosition < 0 || (long) blockTable.length * blockSize < (long) startPosition + count) {
            throw new IllegalArgumentException("A block table of " + blockTable.length + " blocks of " + blockSize
                    + " cannot hold positions up to " + (startPosition + count - 1));
        }
        System.arraycopy(source, from, tokens, rows, count);
        firstRows[sequences] = rows;
        rowCounts[sequences] = count;
        startPositions[sequences] = startPosition;
        blockTables[sequences] = blockTable;
        sequences++;
        rows += count;
        if (!needsLogits) {
            return -1;
        }
        logitRows[logitCount] = rows - 1;
        return logitCount++;
    }

    /** @return token slots per KV block */
    public int blockSize() {
        return blockSize;
    }

    /** @return the most sequences a step holds */
    public int maxSequences() {
        return firstRows.length;
    }

    /** @return the most rows a step holds */
    public int maxRows() {
        return tokens.length;
    }

    /** @return sequences added since the last {@link #clear()} */
    public int sequences() {
        return sequences;
    }

    /** @return tokens added since the last {@link #clear()} */
    public int rows() {
        return rows;
    }

    /** @return how many sequences asked for logits */
    public int logitCount() {
        return logitCount;
    }

    /** @return the step's tokens, row after row; the first {@link #rows()} are valid. Not a copy. */
    int[] tokens() {
        return tokens;
    }

    /** @return for each logits row, the step row it comes from; the first {@link #logitCount()} are valid */
    int[] logitRows() {
        return logitRows;
    }

    /** @return the backend's view of the step, over this batch's arrays */
    AttentionBatch attention() {
        return new AttentionBatch(sequences, firstRows, rowCounts, startPositions, blockTables, blockSize);
    }
}
