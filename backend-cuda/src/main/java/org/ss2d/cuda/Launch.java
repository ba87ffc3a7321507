package org.ss2d.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ss2d.bindings.CudaDriver;

/**
 * Builds the {@code void**} argument array of one kernel launch: every argument gets an 8-byte
 * slot (pointers and int64 as longs, floats in the low 4 bytes), and the array points at the slots.
 * The values are copied by cuLaunchKernel, so the memory may be reused right after the call: it is a
 * block kept per thread (no native allocation per launch; a launch built while another is open on the
 * same thread, or one too big for the block, takes its own arena, as every launch once did).
 */
final class Launch implements AutoCloseable {
    /** Slots, pointers and parameter blocks of one launch: ScanParams (256 bytes) and its backward block fit many times. */
    private static final long BLOCK_BYTES = 4096;
    private static final ThreadLocal<Block> BLOCKS = ThreadLocal.withInitial(Block::new);

    /** A thread's reusable block; freed with the thread (automatic arena). */
    private static final class Block {
        final MemorySegment memory = Arena.ofAuto().allocate(BLOCK_BYTES, 16);
        boolean busy;
    }

    private final Block block;
    private Arena arena;
    private final MemorySegment region;
    private final MemorySegment slots;
    private final MemorySegment pointers;
    private long used;
    private int n;

    Launch(int maxArgs) {
        long table = 8L * maxArgs;
        Block b = BLOCKS.get();
        if (!b.busy && 2 * table <= BLOCK_BYTES) {
            b.busy = true;
            block = b;
            region = b.memory;
        } else {
            block = null;
            arena = Arena.ofConfined();
            region = arena.allocate(Math.max(BLOCK_BYTES, 2 * table), 16);
        }
        slots = region.asSlice(0, table);
        pointers = region.asSlice(table, table);
        used = (2 * table + 15) & ~15L;
    }

    Launch arg(long value) {
        slots.setAtIndex(JAVA_LONG, n, value);
        return point();
    }

    Launch arg(float value) {
        slots.set(JAVA_FLOAT, 8L * n, value);
        return point();
    }

    /** A whole parameter block (a struct passed by value), e.g. {@link ScanParams}. */
    Launch struct(long[] fields) {
        long bytes = 8L * fields.length;
        MemorySegment s;
        if (used + bytes <= region.byteSize()) {
            s = region.asSlice(used, bytes);
            used = (used + bytes + 15) & ~15L;
        } else {
            if (arena == null) arena = Arena.ofConfined();
            s = arena.allocate(bytes, 16);
        }
        MemorySegment.copy(fields, 0, s, JAVA_LONG, 0, fields.length);
        pointers.setAtIndex(ADDRESS, n++, s);
        return this;
    }

    private Launch point() {
        pointers.setAtIndex(ADDRESS, n, slots.asSlice(8L * n, 8));
        n++;
        return this;
    }

    void run(CudaDevice dev, String kernel, long gridX, int blockX, int blockY, int sharedBytes) {
        String fail = failNext;
        if (fail != null && kernel.contains(fail)) { // tests only: an invalid block size, the driver's own error path
            failNext = null;
            blockX = 2048;
            blockY = 1;
        }
        CudaDriver.launch(dev.function(kernel), kernel, gridX, 1, blockX, blockY, sharedBytes, dev.stream, pointers);
    }

    /** Tests only: the next launch of a kernel whose name contains this is made with an invalid block size. */
    private static volatile String failNext;

    /**
     * For tests: makes the next launch of a kernel whose name contains {@code kernelPart} fail in the driver
     * ({@code CUDA_ERROR_INVALID_VALUE}: 2048 threads per block), as a launch error of a real kernel would.
     */
    static void failNextLaunch(String kernelPart) {
        failNext = kernelPart;
    }

    @Override
    public void close() {
        if (block != null) block.busy = false;
        if (arena != null) arena.close();
    }
}
