package io.gantry.backend.cpu;

import io.gantry.api.backend.RopeSpec;

/**
 * Cosines and sines of every (position, pair) angle of one {@link RopeSpec}, computed once: a rotation
 * then costs two table reads instead of two trigonometric calls. Immutable; {@link #covering} makes a
 * larger table when positions outgrow it.
 */
final class RopeTable {

    private static final int MIN_POSITIONS = 1024;

    private final RopeSpec spec;
    private final int pairs;
    private final int positions;
    private final float[] cos;
    private final float[] sin;

    private RopeTable(RopeSpec spec, int positions) {
        this.spec = spec;
        this.pairs = spec.rotaryDims() / 2;
        this.positions = positions;
        this.cos = new float[Math.multiplyExact(positions, pairs)];
        this.sin = new float[cos.length];
        for (int i = 0; i < pairs; i++) {
            double frequency = spec.frequency(i);
            for (int p = 0; p < positions; p++) {
                double angle = p * frequency;
                cos[p * pairs + i] = (float) Math.cos(angle);
                sin[p * pairs + i] = (float) Math.sin(angle);
            }
        }
    }

    /**
     * @param table    an existing table for {@code spec}, or {@code null}
     * @param position the highest position needed
     * @return {@code table} if it covers {@code position}, else a new table that does (with room to grow)
     */
    static RopeTable covering(RopeTable table, RopeSpec spec, int position) {
        if (table != null && position < table.positions) {
            return table;
        }
        int positions = Math.max(MIN_POSITIONS, Math.multiplyExact(Integer.highestOneBit(Math.max(1, position)), 2));
        return new RopeTable(spec, positions);
    }

    /** Rotates the head at {@code x[offset...]} by {@code position}. */
    void rotate(float[] x, int offset, int position) {
        int angles = position * pairs;
        // NORMAL rotates adjacent elements (2i, 2i+1); NEOX rotates (i, i + pairs).
        int stride = spec.style() == RopeSpec.Style.NORMAL ? 2 : 1;
        int partner = spec.style() == RopeSpec.Style.NORMAL ? 1 : pairs;
        for (int i = 0; i < pairs; i++) {
            int a = offset + stride * i;
            int b = a + partner;
            float c = cos[angles + i];
            float s = sin[angles + i];
            float x0 = x[a];
            float x1 = x[b];
            x[a] = x0 * c - x1 * s;
            x[b] = x0 * s + x1 * c;
        }
    }
}
