package io.gantry.cli;

import io.gantry.api.backend.TensorType;

import java.util.Locale;

/** The formats the model commands write matrices in; the names are what {@code --type} takes. */
enum WeightType {
    /** Half floats. */
    F16(TensorType.F16),
    /** 8-bit blocks of 32 with an F16 scale. */
    Q8_0(TensorType.Q8_0),
    /** 4-bit blocks of 32 with an F16 scale. */
    Q4_0(TensorType.Q4_0);

    private final TensorType tensorType;

    WeightType(TensorType tensorType) {
        this.tensorType = tensorType;
    }

    TensorType tensorType() {
        return tensorType;
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
