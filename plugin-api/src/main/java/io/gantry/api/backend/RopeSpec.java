package io.gantry.api.backend;

/**
 * How rotary position embedding is applied.
 *
 * @param style       which elements rotate together
 * @param rotaryDims  leading elements of each head that rotate (usually the head dimension)
 * @param freqBase    the base θ of the frequencies {@code θ^(-2i/rotaryDims)}
 * @param freqScale   linear position scale (1 for none)
 * @param llama3      Llama 3 frequency scaling, or {@code null} for none
 */
public record RopeSpec(Style style, int rotaryDims, float freqBase, float freqScale, Llama3Scaling llama3) {

    /** Which element pairs rotate together. */
    public enum Style {
        /** Adjacent pairs {@code (x[2i], x[2i+1])}: llama.cpp's "normal" RoPE, used by llama. */
        NORMAL,
        /** Halves {@code (x[i], x[i + d/2])}: the GPT-NeoX style, used by qwen2. */
        NEOX
    }

    /**
     * Llama 3.1 style scaling of long wavelengths.
     *
     * @param factor            scale for long wavelengths
     * @param lowFreqFactor     wavelengths above {@code originalContext / lowFreqFactor} are scaled fully
     * @param highFreqFactor    wavelengths below {@code originalContext / highFreqFactor} are kept
     * @param originalContext   the context length the model was trained with
     */
    public record Llama3Scaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContext) {
    }

    /** Checks the dimensions. */
    public RopeSpec {
        if (rotaryDims < 2 || rotaryDims % 2 != 0) {
            throw new IllegalArgumentException("RoPE dimensions must be even and at least 2, got " + rotaryDims);
        }
        if (!(freqBase > 0) || !(freqScale > 0)) {
            throw new IllegalArgumentException("RoPE base and scale must be positive, got " + freqBase + ", " + freqScale);
        }
    }

    /**
     * The rotation frequency of pair {@code i}, with any scaling applied. The one definition every
     * backend uses, so that all of them rotate identically.
     *
     * @param pair the pair index, {@code 0 <= pair < rotaryDims / 2}
     * @return the angle per position, in radians
     */
    public double frequency(int pair) {
        double freq = Math.pow(freqBase, -2.0 * pair / rotaryDims) * freqScale;
        if (llama3 == null) {
            return freq;
        }
        double wavelength = 2 * Math.PI / freq;
        double lowFreqWavelength = llama3.originalContext() / llama3.lowFreqFactor();
        double highFreqWavelength = llama3.originalContext() / llama3.highFreqFactor();
        if (wavelength < highFreqWavelength) {
            return freq;
        }
        if (wavelength > lowFreqWavelength) {
            return freq / llama3.factor();
        }
        double smooth = (llama3.originalContext() / wavelength - llama3.lowFreqFactor())
                / (llama3.highFreqFactor() - llama3.lowFreqFactor());
        return (1 - smooth) * freq / llama3.factor() + smooth * freq;
    }
}
