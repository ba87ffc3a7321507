package org.ss2d.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.tensor.DType;

/**
 * The CPU's blocks and models with a half {@code dtype} option: they compute in float32 buffers and round each
 * step's result to the dtype where a device backend stores it (float32 -> half -> float32 in place), so the
 * values between steps are exactly the half values; the input is widened and the output narrowed at the ends.
 * This is conversion at step boundaries, not half storage: it gives the half results, not half the bytes (the
 * CPU's bandwidth win is in the half scan kernels). Every call is a no-op in float32.
 */
final class HalfSteps {
    private HalfSteps() {}

    /** Elements per conversion chunk: a thread's 16-bit staging, and the unit of the parallel passes. */
    private static final int CHUNK = 16384;

    private static final ThreadLocal<MemorySegment> STAGING =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(2L * CHUNK, 64));

    /** {@code n} floats of {@code s} from element {@code off}, each rounded to {@code dtype} in place (on this thread). */
    static void roundSpan(Kernels k, DType dtype, MemorySegment s, long off, long n) {
        if (dtype == DType.F32) return;
        MemorySegment h = STAGING.get();
        for (long done = 0; done < n; done += CHUNK) {
            int m = (int) Math.min(CHUNK, n - done);
            k.floatToHalf(dtype, s, off + done, h, 0, m);
            k.halfToFloat(dtype, h, 0, s, off + done, m);
        }
    }

    /** {@code rows} rows of {@code stride} floats from {@code off}, columns {@code [p0, p1)} rounded in place. */
    static void roundRows(Kernels k, DType dtype, MemorySegment s, long off, int rows, long stride, int p0, int p1) {
        if (dtype == DType.F32) return;
        for (int r = 0; r < rows; r++) roundSpan(k, dtype, s, off + r * stride + p0, p1 - p0);
    }

    /** {@link #roundSpan} of {@code n} floats spread over the backend's pool. */
    static void round(CpuBackend be, DType dtype, MemorySegment s, long n) {
        if (dtype == DType.F32) return;
        long chunks = (n + CHUNK - 1) / CHUNK;
        be.pool.parallelFor((int) chunks, i -> roundSpan(be.kernels, dtype, s, i * CHUNK, Math.min(CHUNK, n - i * CHUNK)));
    }

    /** {@code n} elements of a 16-bit {@code src} widened into the float32 {@code dst}. */
    static void widen(CpuBackend be, DType dtype, MemorySegment src, MemorySegment dst, long n) {
        long chunks = (n + CHUNK - 1) / CHUNK;
        be.pool.parallelFor((int) chunks, i -> be.kernels.halfToFloat(dtype, src, i * CHUNK, dst, i * CHUNK,
                (int) Math.min(CHUNK, n - i * CHUNK)));
    }

    /** {@code n} float32 elements of {@code src} rounded into the 16-bit {@code dst}. */
    static void narrow(CpuBackend be, DType dtype, MemorySegment src, MemorySegment dst, long n) {
        long chunks = (n + CHUNK - 1) / CHUNK;
        be.pool.parallelFor((int) chunks, i -> be.kernels.floatToHalf(dtype, src, i * CHUNK, dst, i * CHUNK,
                (int) Math.min(CHUNK, n - i * CHUNK)));
    }
}
