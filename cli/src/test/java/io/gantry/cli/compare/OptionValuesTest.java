package io.gantry.cli.compare;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The option values that describe a workload: lengths, priorities, strategies. */
class OptionValuesTest {

    @Test
    void parsesTheThreeFormsAndWritesThemBack() {
        assertEquals(new LengthDistribution.Fixed(80), LengthDistribution.parse("80"));
        assertEquals(new LengthDistribution.Uniform(40, 120), LengthDistribution.parse(" Uniform:40-120 "));
        assertEquals(new LengthDistribution.Normal(80, 20.5), LengthDistribution.parse("normal:80,20.5"));
        for (String spec : new String[] {"80", "uniform:40-120", "normal:80,20", "normal:80.5,0"}) {
            assertEquals(spec, LengthDistribution.parse(spec).spec());
        }
    }

    @Test
    void rejectsWhatIsNoLength() {
        for (String bad : new String[] {"", "0", "-3", "eighty", "uniform:50-40", "uniform:0-4", "normal:0,1",
            "normal:80", "poisson:3", "99999999999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LengthDistribution.parse(bad), bad);
            assertFalse(e.getMessage().isEmpty());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LengthDistribution.parse("many")).getMessage()
                .contains("expected N, uniform:MIN-MAX or normal:MEAN,SD"));
    }

    @Test
    void samplesStayInRangeAndFollowTheDistribution() {
        SplittableRandom random = new SplittableRandom(1);
        int[] uniform = IntStream.range(0, 10_000).map(i -> new LengthDistribution.Uniform(3, 6).sample(random))
                .toArray();
        assertArrayEquals(new int[] {3, 4, 5, 6}, IntStream.of(uniform).distinct().sorted().toArray());
        int[] normal = IntStream.range(0, 10_000).map(i -> new LengthDistribution.Normal(80, 20).sample(random))
                .toArray();
        assertEquals(80, IntStream.of(normal).average().orElseThrow(), 1);
        int[] clipped = IntStream.range(0, 1000).map(i -> new LengthDistribution.Normal(1, 50).sample(random))
                .toArray();
        assertEquals(1, IntStream.of(clipped).min().orElseThrow(), "never below 1");
    }

    @Test
    void prioritiesComeInTurnOrDrawnFromTheList() {
        PriorityPattern inTurn = PriorityPattern.parse("0, 0, 1");
        SplittableRandom random = new SplittableRandom(1);
        assertArrayEquals(new int[] {0, 0, 1, 0, 0, 1}, IntStream.range(0, 6).map(i -> inTurn.priorityOf(i, random))
                .toArray());
        PriorityPattern drawn = PriorityPattern.parse("random:0,5");
        int[] priorities = IntStream.range(0, 1000).map(i -> drawn.priorityOf(i, random)).toArray();
        assertArrayEquals(new int[] {0, 5}, IntStream.of(priorities).distinct().sorted().toArray());
        assertEquals("random:0,5", drawn.spec());
        assertThrows(IllegalArgumentException.class, () -> PriorityPattern.parse("high"));
        assertThrows(IllegalArgumentException.class, () -> PriorityPattern.parse("random:"));
    }

    @Test
    void strategiesAreASchedulerAndAnAllocatorPagedByDefault() {
        assertEquals(new Strategy("continuous", Strategy.SchedulerChoice.CONTINUOUS, Strategy.AllocatorChoice.PAGED),
                Strategy.parse("continuous"));
        assertEquals(new Strategy("static+contiguous", Strategy.SchedulerChoice.STATIC,
                Strategy.AllocatorChoice.CONTIGUOUS), Strategy.parse(" Static+Contiguous"));
        assertEquals(Strategy.AllocatorChoice.PAGED_NO_PREFIX, Strategy.parse("priority+paged-no-prefix").allocator());
        assertEquals(3, Strategy.parseList("continuous,static,priority").size());
        assertEquals("unknown scheduler 'fifo' (choose from continuous, static, priority)",
                assertThrows(IllegalArgumentException.class, () -> Strategy.parse("fifo")).getMessage());
        assertEquals("unknown KV allocator 'ring' (choose from paged, paged-no-prefix, contiguous)",
                assertThrows(IllegalArgumentException.class, () -> Strategy.parse("static+ring")).getMessage());
        assertEquals("'continuous+paged' is listed twice (as continuous+paged)", assertThrows(
                IllegalArgumentException.class, () -> Strategy.parseList("continuous,continuous+paged")).getMessage());
    }
}
