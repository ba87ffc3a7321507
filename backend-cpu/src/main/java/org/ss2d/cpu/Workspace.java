package org.ss2d.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Scratch memory for block intermediates: one segment handed out in slices, kept between calls
 * (allocating and zeroing ~17 MB per image on every SS2D call cost time that no step accounted for).
 * Every slice is fully written by its step before it is read, so reuse needs no clearing.
 */
final class Workspace implements AutoCloseable {
    private static final long ALIGN = 64;

    private final Arena arena;
    private final MemorySegment mem;
    private long used;

    private Workspace(long bytes) {
        arena = Arena.ofShared();
        mem = arena.allocate(Math.max(bytes, ALIGN), ALIGN);
    }

    /** Bytes that {@code counts} float slices take, alignment included (ArithmeticException past a long). */
    static long bytesFor(long... counts) {
        long n = 0;
        for (long c : counts) n = Math.addExact(n, (Math.multiplyExact(Math.max(1, c), 4) + ALIGN - 1) / ALIGN * ALIGN);
        return n;
    }

    /** The next {@code count} floats (64-byte aligned). */
    MemorySegment floats(long count) {
        long bytes = Math.max(1, count) * 4;
        MemorySegment s = mem.asSlice(used, bytes);
        used += (bytes + ALIGN - 1) / ALIGN * ALIGN;
        return s;
    }

    @Override
    public void close() {
        arena.close();
    }

    /** One spare workspace per backend; concurrent calls beyond it get their own. */
    static final class Pool implements AutoCloseable {
        private final AtomicReference<Workspace> spare = new AtomicReference<>();

        Workspace take(long bytes) {
            Workspace w = spare.getAndSet(null);
            if (w != null && w.mem.byteSize() >= bytes) {
                w.used = 0;
                return w;
            }
            if (w != null) w.close();
            return new Workspace(bytes);
        }

        void give(Workspace w) {
            Workspace old = spare.getAndSet(w);
            if (old != null) old.close();
        }

        @Override
        public void close() {
            Workspace w = spare.getAndSet(null);
            if (w != null) w.close();
        }
    }
}
