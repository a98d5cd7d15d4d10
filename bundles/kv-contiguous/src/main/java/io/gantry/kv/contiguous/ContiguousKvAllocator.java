package io.gantry.kv.contiguous;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginProperties;
import io.gantry.kv.blocks.BlockTableAllocator;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ServiceScope;

/**
 * Contiguous KV allocation: every sequence reserves room for the maximum sequence length up front, as one
 * block of that many slots. Nothing is shared and a sequence never has to grow, but the reservation is
 * mostly empty for short requests, so far fewer sequences fit the pool than with paged blocks; its
 * statistics show that waste. It runs the paged allocator's block-table path with one big block per
 * sequence, so the two compare on equal terms.
 *
 * <p>Nothing to configure: the block size follows the maximum sequence length the engine attaches with.
 * Prototype scope: a consumer serving several pools gets one instance per pool.
 */
@Component(service = KvCacheAllocator.class, scope = ServiceScope.PROTOTYPE, property = {
        PluginProperties.NAME + "=contiguous",
        PluginProperties.DESCRIPTION + "=One contiguous max-length reservation per sequence (baseline for paged)",
        "service.ranking:Integer=50" })
public final class ContiguousKvAllocator extends BlockTableAllocator {

    /** Creates the allocator; prefix caching is off, since a block never fills before its sequence ends. */
    public ContiguousKvAllocator() {
        super(false);
    }

    @Override
    protected int blockSizeFor(int maxSequenceLength) {
        return maxSequenceLength;
    }
}
