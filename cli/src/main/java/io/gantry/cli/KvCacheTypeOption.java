package io.gantry.cli;

import io.gantry.api.backend.TensorType;
import io.gantry.engine.serving.ServingLimits;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code --kv-cache-type} option of every command that runs a model with a KV pool. */
final class KvCacheTypeOption {

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Option(names = "--kv-cache-type", paramLabel = "TYPE", defaultValue = "f16",
            description = "How the KV pool stores keys and values: f16, or f32 (twice the memory per token); a backend "
                    + "whose pools cannot hold f16 uses f32 (default: ${DEFAULT-VALUE}).")
    private String kvCacheType;

    /** @return the element type asked for */
    TensorType kvCacheType() {
        try {
            return ServingLimits.kvCacheType(kvCacheType);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), "--kv-cache-type must be f16 or f32, got '"
                    + kvCacheType + "'");
        }
    }
}
