package io.gantry.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Native memory for large data that kernels stream through (packed weights, KV pools), backed by Linux's
 * transparent huge pages where the kernel offers them: mapped anonymously, aligned to a huge page, and advised
 * {@code MADV_HUGEPAGE} before anything touches it, so that its first writes fault in whole huge pages. Where the
 * machine runs THP in {@code madvise} mode (the common default) memory is otherwise backed by 4 KiB pages, which
 * cost a TLB miss every 4 KiB of a stream and stop the hardware prefetchers at every page boundary. On this
 * project's 2-core Zen 4 VM a stream reads faster on one thread (MatmulBenchmark, F16, one row, weights from
 * memory: 24.4-24.9 GFLOP/s with small pages, 25.4-26.1 with huge ones; a C reader 24 against 28 GB/s); two threads
 * saturate the VM's memory either way (32 GB/s).
 *
 * <p>Only whole huge pages are advised: a tail under a huge page stays in small pages, so no allocation takes more
 * memory than it asks for. Elsewhere (other systems, THP off, anything failing) allocations come from the arena as
 * usual; huge pages are a speed-up, never a condition.
 */
final class HugePages {

    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1;
    private static final long ALIGNMENT = 64;

    /** libc's calls, or null where huge pages are not used. */
    private static final Libc LIBC;
    /** Bytes of a huge page, or 0 where allocations do not use them. */
    static final long SIZE;

    static {
        long size = hugePageSize();
        LIBC = size == 0 ? null : Libc.link();
        SIZE = LIBC == null ? 0 : size;
    }

    /** The C functions used, with {@code void *} and {@code size_t} as longs (64-bit machines only). */
    private record Libc(MethodHandle mmap, MethodHandle munmap, MethodHandle madvise) {

        /** @return the calls linked, or null where they cannot be called */
        static Libc link() {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                ValueLayout.OfLong word = ValueLayout.JAVA_LONG;
                ValueLayout.OfInt integer = ValueLayout.JAVA_INT;
                return new Libc(
                        linker.downcallHandle(libc.findOrThrow("mmap"),
                                FunctionDescriptor.of(word, word, word, integer, integer, integer, word)),
                        linker.downcallHandle(libc.findOrThrow("munmap"), FunctionDescriptor.of(integer, word, word)),
                        linker.downcallHandle(libc.findOrThrow("madvise"),
                                FunctionDescriptor.of(integer, word, word, integer)));
            } catch (RuntimeException e) {
                // Symbols missing, or native access denied: no huge pages.
                return null;
            }
        }
    }

    private HugePages() {
    }

    /**
     * @return {@code bytes} of zeroed native memory aligned to at least 64 bytes, freed when {@code arena} closes:
     *         on huge pages where {@link #SIZE} is not 0 and {@code bytes} covers at least one
     * @throws OutOfMemoryError if the memory cannot be had
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (SIZE == 0 || bytes < SIZE) {
            return arena.allocate(bytes, ALIGNMENT);
        }
        // A mapping one huge page longer than asked, so that an aligned run of the length asked fits in it.
        long length = bytes + SIZE;
        long mapping = call(LIBC.mmap(), 0L, length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
        if (mapping == MAP_FAILED) {
            throw new OutOfMemoryError("Cannot map " + length + " bytes of native memory");
        }
        long start = (mapping + SIZE - 1) & -SIZE;
        // Failing to advise leaves small pages, no worse than an allocation from the arena.
        call(LIBC.madvise(), start, bytes & -SIZE, MADV_HUGEPAGE);
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena,
                segment -> call(LIBC.munmap(), mapping, length));
    }

    /** @return the huge page size of Linux's THP on a 64-bit machine, unless they are off; else 0 */
    private static long hugePageSize() {
        try {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "");
            // The mmap flags above are those of Linux on x86-64 and AArch64.
            if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("aarch64"))) {
                return 0;
            }
            Path thp = Path.of("/sys/kernel/mm/transparent_hugepage");
            if (Files.readString(thp.resolve("enabled")).contains("[never]")) {
                return 0;
            }
            long size = Long.parseLong(Files.readString(thp.resolve("hpage_pmd_size")).trim());
            return Long.bitCount(size) == 1 ? size : 0;
        } catch (Exception e) {
            // No THP files, or unreadable ones: no huge pages.
            return 0;
        }
    }

    /** @return the C call's result, as a long */
    private static long call(MethodHandle function, Object... arguments) {
        try {
            return ((Number) function.invokeWithArguments(arguments)).longValue();
        } catch (Throwable e) {
            throw new IllegalStateException("Native call failed: " + function, e);
        }
    }
}
