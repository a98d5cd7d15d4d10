package io.gantry.kv.paged;

import io.gantry.api.kv.KvCacheAllocator;
import io.gantry.api.plugin.PluginProperties;
import io.gantry.kv.blocks.BlockTableAllocator;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ServiceScope;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Paged KV allocation: the pool is cut into small fixed-size blocks and each sequence's block table grows
 * one block at a time, so a sequence wastes at most the unfilled part of its last block. With prefix
 * caching on, sequences that start with the same tokens (a shared system prompt, a multi-turn chat)
 * share the blocks of that prefix by reference and skip computing it; blocks nobody holds stay cached
 * until fresh space runs out, the least recently used evicted first.
 *
 * <p>Configured through PID {@value #PID}. A configuration change replaces the component: the engine
 * swaps allocators the safe way (preempts its sequences, attaches the new instance, re-admits them),
 * since the block size cannot change under a running pool. Prototype scope: a consumer serving several
 * pools gets one instance per pool.
 */
@Component(service = KvCacheAllocator.class, configurationPid = PagedKvAllocator.PID, scope = ServiceScope.PROTOTYPE,
        property = {
            PluginProperties.NAME + "=paged",
            PluginProperties.DESCRIPTION + "=Paged KV blocks with prefix caching (shared prefixes computed once)",
            "service.ranking:Integer=100" })
@Designate(ocd = PagedKvAllocator.Config.class)
public final class PagedKvAllocator extends BlockTableAllocator {

    /** The configuration PID. */
    public static final String PID = "io.gantry.kv.paged";

    /** The block size when none is configured. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    private static final System.Logger LOG = System.getLogger(PagedKvAllocator.class.getName());

    /** Configuration (PID {@value #PID}). */
    @ObjectClassDefinition(name = "Gantry paged KV allocator",
            description = "Fixed-size KV blocks per sequence, with optional prefix caching.")
    public @interface Config {
        /** @return tokens per block */
        @AttributeDefinition(name = "Block size", min = "1",
                description = "Tokens per KV block. Smaller blocks waste less and share more prefixes; larger"
                        + " ones mean shorter block tables.")
        int blockSize() default DEFAULT_BLOCK_SIZE;

        /** @return whether sequences share the blocks of a common prefix */
        @AttributeDefinition(name = "Prefix caching",
                description = "Reuse the KV of full blocks whose token prefix another request already computed.")
        boolean prefixCaching() default true;
    }

    private final int configuredBlockSize;

    /**
     * The DS constructor.
     *
     * @param config the configuration
     * @throws IllegalArgumentException naming the bad value, which is also logged; the component then does
     *         not activate and the engine keeps to another allocator
     */
    @Activate
    public PagedKvAllocator(Config config) {
        this(config.blockSize(), config.prefixCaching());
        LOG.log(System.Logger.Level.INFO, "Paged KV allocator: {0}-token blocks, prefix caching {1}",
                configuredBlockSize, reusesPrefixes() ? "on" : "off");
    }

    /**
     * @param blockSize     tokens per block, at least 1
     * @param prefixCaching whether sequences share the blocks of a common prefix
     * @throws IllegalArgumentException if the block size is below 1 (logged too)
     */
    public PagedKvAllocator(int blockSize, boolean prefixCaching) {
        super(prefixCaching);
        this.configuredBlockSize = validBlockSize(blockSize);
    }

    private static int validBlockSize(int blockSize) {
        if (blockSize < 1) {
            String message = "Invalid KV block size " + blockSize + " (" + PID + " blockSize): it must be at least 1;"
                    + " the paged KV allocator stays inactive until it is fixed";
            LOG.log(System.Logger.Level.ERROR, message);
            throw new IllegalArgumentException(message);
        }
        return blockSize;
    }

    @Override
    protected int blockSizeFor(int maxSequenceLength) {
        return configuredBlockSize;
    }
}
