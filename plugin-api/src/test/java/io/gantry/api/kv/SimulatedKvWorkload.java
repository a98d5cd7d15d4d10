package io.gantry.api.kv;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Random;

/**
 * A fake engine for KV allocator tests: it drives a {@link KvCacheAllocator} through thousands of random
 * requests the way the step loop does (admission with prefix lookup, chunked prefill, decoding, preemption
 * when blocks run out, commits, frees) and checks the SPI contract after every call. Shipped in plugin-api's
 * test-jar so every allocator, third-party ones too, is held to the same checks.
 *
 * <p>No model runs. Each KV slot of the simulated pool holds a fingerprint of the token prefix whose last
 * position was written there. A block table that moves a written position, a reused prefix block with
 * the wrong contents, or a write into a block another sequence holds is caught where it happens; KV
 * overwritten some other way is caught before its sequence is freed. Many
 * prompts start with one of a few shared "system prompts", and some continue a finished conversation, so
 * an allocator with prefix reuse gets hits; a small vocabulary makes look-alike prompts common too.
 *
 * <p>Reproducible: everything random comes from {@link Settings#seed()}. Not thread-safe.
 */
public final class SimulatedKvWorkload {

    /**
     * @param capacitySlots     the simulated KV pool's size in token slots
     * @param maxSequenceLength the longest sequence (prompt plus output)
     * @param requests          requests to run to completion
     * @param maxRunning        most sequences holding KV at once
     * @param chunkTokens       most prompt tokens one sequence prefills per step
     * @param seed              the seed of every random choice
     */
    public record Settings(int capacitySlots, int maxSequenceLength, int requests, int maxRunning, int chunkTokens,
            long seed) {
    }

    /**
     * What the workload did, for tests to check that it exercised what they are about.
     *
     * @param steps          engine steps run
     * @param finished       requests that ran to completion
     * @param preemptions    sequences preempted because blocks ran out
     * @param reusedTokens   prompt tokens whose KV came from the prefix cache, summed over admissions
     * @param peakUsedBlocks the most blocks held at once
     * @param finalStats     the allocator's statistics after every sequence was freed, before detach
     */
    public record Report(int steps, int finished, int preemptions, long reusedTokens, int peakUsedBlocks,
            KvStats finalStats) {
    }

    private static final int VOCABULARY = 24;
    private static final int SYSTEM_PROMPTS = 5;
    private static final int EMPTY = 0;

    private final KvCacheAllocator allocator;
    private final Settings settings;
    private final Random random;
    private final long[] slots;
    private final int[][] systemPrompts;
    private final List<int[]> finishedConversations = new ArrayList<>();
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private int[] holders;
    private int blockSize;
    private long nextId = 1;
    private int steps;
    private int finished;
    private int preemptions;
    private long reusedTokens;
    private int peakUsedBlocks;

    private SimulatedKvWorkload(KvCacheAllocator allocator, Settings settings) {
        this.allocator = allocator;
        this.settings = settings;
        this.random = new Random(settings.seed());
        this.slots = new long[settings.capacitySlots()];
        this.systemPrompts = new int[SYSTEM_PROMPTS][];
        for (int i = 0; i < SYSTEM_PROMPTS; i++) {
            systemPrompts[i] = randomTokens(1 + random.nextInt(Math.max(1, settings.maxSequenceLength() / 2)));
        }
    }

    /**
     * Attaches the allocator, runs every request to completion, frees everything, checks that no block
     * leaked, and detaches.
     *
     * @param allocator the allocator under test, not attached
     * @param settings  the workload
     * @return what the workload did
     * @throws AssertionError describing the first broken contract rule
     */
    public static Report run(KvCacheAllocator allocator, Settings settings) {
        return new SimulatedKvWorkload(allocator, settings).run();
    }

    private Report run() {
        allocator.attach(settings.capacitySlots(), settings.maxSequenceLength());
        blockSize = allocator.blockSize();
        holders = new int[allocator.totalBlocks()];
        check(allocator.freeBlocks() == allocator.totalBlocks(), "a freshly attached pool must be all free");
        for (int i = 0; i < settings.requests(); i++) {
            waiting.add(newRequest());
        }
        long stepLimit = 1000L * settings.requests() + 1000;
        while (!waiting.isEmpty() || !running.isEmpty()) {
            check(++steps < stepLimit, "no progress after " + steps + " steps");
            step();
            checkAccounting();
        }
        KvStats drained = allocator.stats();
        check(drained.usedBlocks() == 0 && drained.sequences() == 0 && drained.reservedSlots() == 0
                && drained.filledSlots() == 0, "blocks leaked after every sequence was freed: " + drained);
        check(allocator.freeBlocks() == allocator.totalBlocks(),
                "free blocks " + allocator.freeBlocks() + " != total " + allocator.totalBlocks() + " after freeing all");
        allocator.detach();
        return new Report(steps, finished, preemptions, reusedTokens, peakUsedBlocks, drained);
    }

    private Sequence newRequest() {
        int maxLength = settings.maxSequenceLength();
        int[] prefix = switch (random.nextInt(10)) {
            case 0, 1, 2, 3, 4, 5 -> systemPrompts[random.nextInt(SYSTEM_PROMPTS)];
            case 6, 7 -> finishedConversations.isEmpty() ? new int[0]
                    : finishedConversations.get(random.nextInt(finishedConversations.size()));
            default -> new int[0];
        };
        prefix = Arrays.copyOf(prefix, Math.min(prefix.length, maxLength - 1));
        int suffix = 1 + random.nextInt(Math.max(1, Math.min(maxLength - prefix.length, maxLength / 4)));
        int[] prompt = concat(prefix, randomTokens(suffix));
        int room = maxLength - prompt.length;
        int maxTokens = room == 0 ? 0 : 1 + random.nextInt(Math.min(room, Math.max(1, maxLength / 4)));
        return new Sequence(nextId++, prompt, maxTokens);
    }

    private void step() {
        if (!running.isEmpty() && random.nextInt(50) == 0) {
            preempt(running.get(random.nextInt(running.size())));
        }
        probeWithoutSideEffects();
        admit();
        for (Sequence sequence : List.copyOf(running)) {
            if (running.contains(sequence)) {
                advance(sequence);
            }
        }
    }

    /** FIFO admission: stops at the first request that does not fit, as a fair engine does. */
    private void admit() {
        while (!waiting.isEmpty() && running.size() < settings.maxRunning()) {
            Sequence sequence = waiting.peekFirst();
            int[] tokens = sequence.tokens();
            int cached = allocator.cachedPrefixLength(tokens);
            check(cached >= 0 && cached % blockSize == 0 && (cached == 0 || cached < tokens.length),
                    "cachedPrefixLength " + cached + " for " + tokens.length + " tokens, block size " + blockSize);
            int total = Math.min(tokens.length, cached + settings.chunkTokens());
            if (!tryAllocate(sequence, total, cached)) {
                return;
            }
            waiting.removeFirst();
            running.add(sequence);
            sequence.computed = cached;
            reusedTokens += cached;
            for (int p = 0; p < cached; p++) {
                check(slots[slot(sequence, p)] == sequence.fingerprint(p), "reused prefix of sequence " + sequence.id
                        + " holds other KV at position " + p);
            }
        }
    }

    /** Runs one chunk of prefill or one decode step, preempting the newest others while blocks run out. */
    private void advance(Sequence sequence) {
        int chunk = Math.min(sequence.pending(), settings.chunkTokens());
        int total = sequence.computed + chunk;
        while (!tryAllocate(sequence, total, 0)) {
            Sequence victim = running.getLast() == sequence && running.size() > 1
                    ? running.get(running.size() - 2) : running.getLast();
            preempt(victim);
            if (victim == sequence) {
                return;
            }
        }
        for (int p = sequence.computed; p < total; p++) {
            int block = sequence.table[p / blockSize];
            check(holders[block] == 1, "sequence " + sequence.id + " would write position " + p + " into block "
                    + block + ", which " + holders[block] + " sequences hold");
            slots[slot(sequence, p)] = sequence.fingerprint(p);
        }
        sequence.computed = total;
        allocator.commit(sequence.id, sequence.tokens(), total);
        if (sequence.pending() == 0) {
            if (sequence.generated == sequence.maxTokens) {
                finish(sequence);
            } else {
                sequence.append(random.nextInt(VOCABULARY));
            }
        }
    }

    /**
     * Allocates and checks the result against {@code blocksNeeded} and {@code freeBlocks} asked just before.
     *
     * @return whether the allocation succeeded
     */
    private boolean tryAllocate(Sequence sequence, int total, int expectedReuse) {
        boolean known = running.contains(sequence);
        int[] tokens = sequence.tokens();
        int free = allocator.freeBlocks();
        int needed = allocator.blocksNeeded(sequence.id, tokens, total);
        check(needed >= 0, "blocksNeeded is negative: " + needed);
        int result = allocator.allocate(sequence.id, tokens, total);
        if (result < 0) {
            check(result == -1 && needed > free, "allocate failed (" + result + ") although " + needed
                    + " blocks were needed and " + free + " free");
            check(allocator.freeBlocks() == free, "a failed allocate changed the free blocks");
            return false;
        }
        check(needed <= free, "allocate succeeded although " + needed + " blocks were needed and " + free + " free");
        check(result == (known ? 0 : expectedReuse), "allocate returned " + result + ", expected "
                + (known ? 0 : expectedReuse) + " for " + (known ? "a known" : "a new") + " sequence");
        check(allocator.freeBlocks() == free - needed, "allocate lowered free blocks from " + free + " to "
                + allocator.freeBlocks() + ", but blocksNeeded said " + needed);
        int[] table = new int[allocator.totalBlocks()];
        int length = allocator.copyBlockTable(sequence.id, table);
        check(length >= Math.ceilDiv(Math.max(total, expectedReuse), blockSize),
                "block table of " + length + " blocks cannot hold " + total + " positions");
        for (int i = 0; i < sequence.tableLength; i++) {
            check(table[i] == sequence.table[i], "block " + i + " of sequence " + sequence.id + " moved from "
                    + sequence.table[i] + " to " + table[i] + " while its KV was in use");
        }
        for (int i = sequence.tableLength; i < length; i++) {
            check(table[i] >= 0 && table[i] < holders.length, "block id " + table[i] + " outside the pool");
            holders[table[i]]++;
        }
        sequence.table = Arrays.copyOf(table, length);
        sequence.tableLength = length;
        sequence.held = Math.max(sequence.held, Math.max(total, expectedReuse));
        return true;
    }

    private void preempt(Sequence sequence) {
        release(sequence);
        sequence.computed = 0;
        waiting.addFirst(sequence);
        preemptions++;
    }

    private void finish(Sequence sequence) {
        release(sequence);
        finishedConversations.add(sequence.tokens());
        if (finishedConversations.size() > 64) {
            finishedConversations.removeFirst();
        }
        finished++;
    }

    private void release(Sequence sequence) {
        for (int p = 0; p < sequence.computed; p++) {
            check(slots[slot(sequence, p)] == sequence.fingerprint(p),
                    "KV of sequence " + sequence.id + " at position " + p + " was overwritten while it ran");
        }
        int freeable = 0;
        for (int i = 0; i < sequence.tableLength; i++) {
            if (holders[sequence.table[i]] == 1) {
                freeable++;
            }
        }
        int reported = allocator.freeableBlocks(sequence.id);
        check(reported == freeable, "freeableBlocks says " + reported + ", but " + freeable
                + " blocks of the table are held by this sequence alone");
        int free = allocator.freeBlocks();
        allocator.free(sequence.id);
        check(allocator.freeBlocks() == free + freeable, "free gave back " + (allocator.freeBlocks() - free)
                + " blocks, expected " + freeable);
        for (int i = 0; i < sequence.tableLength; i++) {
            holders[sequence.table[i]]--;
        }
        running.remove(sequence);
        sequence.table = new int[0];
        sequence.tableLength = 0;
        sequence.held = 0;
    }

    /** Lookups take nothing and freeing an unknown id is ignored: free blocks and statistics stay as they were. */
    private void probeWithoutSideEffects() {
        int free = allocator.freeBlocks();
        KvStats before = allocator.stats();
        int[] probe = random.nextBoolean() && !finishedConversations.isEmpty()
                ? finishedConversations.get(random.nextInt(finishedConversations.size())) : randomTokens(1 + random.nextInt(64));
        allocator.cachedPrefixLength(probe);
        allocator.blocksNeeded(-1, probe, Math.min(probe.length, settings.maxSequenceLength()));
        allocator.free(-1);
        check(allocator.freeBlocks() == free && allocator.stats().equals(before),
                "a lookup, or freeing an unknown sequence, changed the allocator's state");
    }

    /** Every held block is in some table, shared blocks are counted once, and the statistics agree. */
    private void checkAccounting() {
        int used = 0;
        for (int count : holders) {
            if (count > 0) {
                used++;
            }
        }
        peakUsedBlocks = Math.max(peakUsedBlocks, used);
        long filled = 0;
        int[] filledPerBlock = new int[holders.length];
        for (Sequence sequence : running) {
            for (int i = 0; i < sequence.tableLength; i++) {
                int positions = Math.clamp(sequence.held - (long) i * blockSize, 0, blockSize);
                filledPerBlock[sequence.table[i]] = Math.max(filledPerBlock[sequence.table[i]], positions);
            }
        }
        for (int positions : filledPerBlock) {
            filled += positions;
        }
        KvStats stats = allocator.stats();
        check(stats.totalBlocks() == holders.length && stats.blockSize() == blockSize, "stats shape: " + stats);
        check(stats.usedBlocks() == used, "stats say " + stats.usedBlocks() + " blocks are used; the tables hold " + used);
        check(allocator.freeBlocks() == holders.length - used, "free blocks " + allocator.freeBlocks()
                + " + used " + used + " != total " + holders.length + ": a block leaked");
        check(stats.cachedBlocks() >= 0 && stats.cachedBlocks() <= allocator.freeBlocks(), "cached blocks " + stats);
        check(stats.sequences() == running.size(), "stats count " + stats.sequences() + " sequences, " + running.size()
                + " are running");
        check(stats.reservedSlots() == (long) used * blockSize, "reserved slots " + stats);
        check(stats.filledSlots() == filled, "stats say " + stats.filledSlots() + " slots are filled, the tables "
                + filled);
        check(stats.prefixHits() <= stats.prefixQueries(), "more prefix hits than queries: " + stats);
    }

    private int slot(Sequence sequence, int position) {
        return sequence.table[position / blockSize] * blockSize + position % blockSize;
    }

    private int[] randomTokens(int count) {
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = random.nextInt(VOCABULARY);
        }
        return tokens;
    }

    private static int[] concat(int[] first, int[] second) {
        int[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    /** A request as the fake engine tracks it: its tokens, their fingerprints, and its copy of the block table. */
    private static final class Sequence {
        final long id;
        final int maxTokens;
        int[] tokens;
        long[] fingerprints;
        int length;
        int generated;
        int computed;
        int held;
        int[] table = new int[0];
        int tableLength;

        Sequence(long id, int[] prompt, int maxTokens) {
            this.id = id;
            this.maxTokens = maxTokens;
            this.tokens = new int[prompt.length + maxTokens];
            this.fingerprints = new long[tokens.length];
            for (int token : prompt) {
                push(token);
            }
        }

        int[] tokens() {
            return Arrays.copyOf(tokens, length);
        }

        int pending() {
            return length - computed;
        }

        void append(int token) {
            push(token);
            generated++;
        }

        private void push(int token) {
            long previous = length == 0 ? 0x9E3779B97F4A7C15L : fingerprints[length - 1];
            tokens[length] = token;
            fingerprints[length] = mix(previous * 31 + token + 1);
            length++;
        }

        /** @return a fingerprint of tokens {@code 0..position}, never {@link #EMPTY} */
        long fingerprint(int position) {
            return fingerprints[position];
        }

        private static long mix(long value) {
            long z = value;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            return z == EMPTY ? 1 : z;
        }
    }
}
