package io.gantry.cli;

import io.gantry.engine.synth.FileType;

import java.util.Locale;

/** The formats the model commands write matrices in; the names are what {@code --type} takes. */
enum WeightType {
    /** Half floats. */
    F16(FileType.F16),
    /** 8-bit blocks of 32 with an F16 scale. */
    Q8_0(FileType.Q8_0),
    /** 4-bit blocks of 32 with an F16 scale. */
    Q4_0(FileType.Q4_0),
    /** llama.cpp's Q4_K_M mix: 4-bit K blocks of 256, with 6-bit ones for the output and half the layers' attn_v and ffn_down. */
    Q4_K_M(FileType.Q4_K_M),
    /** 6-bit K blocks of 256. */
    Q6_K(FileType.Q6_K);

    private final FileType fileType;

    WeightType(FileType fileType) {
        this.fileType = fileType;
    }

    FileType fileType() {
        return fileType;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
