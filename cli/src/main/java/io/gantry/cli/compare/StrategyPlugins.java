package io.gantry.cli.compare;

import io.gantry.api.backend.DeviceBackend;
import io.gantry.api.plugin.PluginInfo;
import io.gantry.api.plugin.PluginKind;
import io.gantry.api.plugin.PluginRegistry;
import io.gantry.engine.serving.DirectPlugins;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The plugins of the strategy being run, outside OSGi: one backend for the whole comparison, and the scheduler and
 * a fresh KV allocator of each strategy in turn. The engine picks a new strategy up at its next step (a new
 * allocator means a new, empty KV pool). Reports the first exception a plugin call ends with, so that a strategy
 * whose steps fail (say, a KV pool too small for a contiguous reservation) is stopped at once instead of waited out.
 */
final class StrategyPlugins implements PluginRegistry {

    /** The plugins in use; the strategy's are assigned into it. */
    private final DirectPlugins current;
    private final int maxNumSeqs;
    private final int blockSize;
    /** Told of the first failure since {@link #use}, then cleared; null when nobody listens or it was told. */
    private volatile Consumer<RuntimeException> failureListener;

    /**
     * @param backend    the backend every strategy runs on
     * @param maxNumSeqs the engine's max-num-seqs (the static scheduler's batch size)
     * @param blockSize  tokens per block of the paged allocators
     */
    StrategyPlugins(DeviceBackend backend, int maxNumSeqs, int blockSize) {
        this.current = new DirectPlugins(backend, null, null);
        this.maxNumSeqs = maxNumSeqs;
        this.blockSize = blockSize;
    }

    /**
     * Makes {@code strategy} the one the engine uses from its next step.
     *
     * @param strategy  the strategy
     * @param onFailure told, on the engine's thread, of the first exception a plugin call ends with from now on
     */
    void use(Strategy strategy, Consumer<RuntimeException> onFailure) {
        failureListener = onFailure;
        current.scheduler = strategy.scheduler().create(maxNumSeqs);
        current.allocator = strategy.allocator().create(blockSize);
    }

    @Override
    public List<PluginInfo> plugins(PluginKind kind) {
        return current.plugins(kind);
    }

    @Override
    public Optional<PluginInfo> active(PluginKind kind) {
        return current.active(kind);
    }

    /** A comparison chooses its plugins by strategy, as {@link #use} assigns them, never by name. */
    @Override
    public void select(PluginKind kind, String name) {
        current.select(kind, name);
    }

    @Override
    public <T, R> R call(Class<T> type, Function<? super T, ? extends R> call, Duration waitUpTo) {
        try {
            return current.call(type, call, waitUpTo);
        } catch (RuntimeException e) {
            Consumer<RuntimeException> listener = failureListener;
            failureListener = null;
            if (listener != null) {
                listener.accept(e);
            }
            throw e;
        }
    }
}
