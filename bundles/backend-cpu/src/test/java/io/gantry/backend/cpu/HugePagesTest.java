package io.gantry.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class HugePagesTest {

    private static final long MIB = 1 << 20;

    @Test
    void allocationsAreZeroedAlignedWritableAndFreedWithTheirArena() {
        for (long bytes : new long[] {1, 1000, 5 * MIB + 12345}) {
            MemorySegment segment;
            try (Arena arena = Arena.ofShared()) {
                segment = HugePages.allocate(arena, bytes);
                assertEquals(bytes, segment.byteSize());
                assertEquals(0, segment.address() % 64, "aligned to a cache line");
                for (long at = 0; at < bytes; at += 4093) {
                    assertEquals(0, segment.get(ValueLayout.JAVA_BYTE, at), "zeroed at " + at);
                }
                segment.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 7);
                assertEquals(7, segment.get(ValueLayout.JAVA_BYTE, bytes - 1));
            }
            MemorySegment freed = segment;
            assertThrows(IllegalStateException.class, () -> freed.get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void largeAllocationsAreAdvisedHugeWhereTheMachineHasThem() throws IOException {
        assumeTrue(HugePages.SIZE > 0, "this machine has no transparent huge pages to advise");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment segment = HugePages.allocate(arena, 3 * HugePages.SIZE + 100);
            assertEquals(0, segment.address() % HugePages.SIZE, "aligned to a huge page");
            assertTrue(eligibleForHugePages(segment.address()),
                    "/proc/self/smaps shows the mapping at " + Long.toHexString(segment.address())
                            + " eligible for huge pages");
        }
    }

    /** @return the {@code THPeligible} flag of the mapping that holds {@code address} in /proc/self/smaps */
    private static boolean eligibleForHugePages(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (String line : lines) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= address
                        && address < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && line.startsWith("THPeligible:")) {
                return line.substring("THPeligible:".length()).trim().equals("1");
            }
        }
        throw new AssertionError("no mapping holds " + Long.toHexString(address) + " in /proc/self/smaps");
    }
}
