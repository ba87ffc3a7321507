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
 * The values are copied by cuLaunchKernel, so the arena may close right after the call.
 */
final class Launch implements AutoCloseable {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment slots;
    private final MemorySegment pointers;
    private int n;

    Launch(int maxArgs) {
        slots = arena.allocate(8L * maxArgs, 16);
        pointers = arena.allocate(ADDRESS, maxArgs);
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
        MemorySegment s = arena.allocate(8L * fields.length, 16);
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
        arena.close();
    }
}
