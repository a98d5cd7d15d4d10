/**
 * KV-cache allocators: bookkeeping that maps each sequence's token positions to physical slots in the
 * backend's KV pool through block tables. The memory itself belongs to the {@link
 * io.gantry.api.backend.DeviceBackend}; an allocator only decides which slots hold what.
 */
@Version("1.2.0")
@Export
package io.gantry.api.kv;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
