package org.ss2d.cpu.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.ss2d.ops.BCMode;
import org.ss2d.tensor.DType;

/**
 * The selective scan on 16-bit activations (mamba's half dtypes) for kernels without a half path of their own: the
 * scalar kernels, and the SIMD kernels' time-lane rows at dstate &gt; 1 (channels left over from the channel-lane
 * blocks, or dstate past their maximum); dstate 1 and the channel-lane blocks read halves in their own passes
 * ({@link Kernels#scanHalf}). Here blocks of rows are widened to float32
 * in a thread's staging buffers, scanned by the float32 kernels, and {@code out} rounded back. A block
 * is a few rows of one (batch, group), sized so that its staged u, delta, z and out stay in L2
 * (~256 KiB), or the kernels' row alignment (VL channels for the channel-block kernel) where rows are long.
 * Variable B and C are widened once per (batch, group) and kept while that group's channels follow.
 *
 * <p>Why stage instead of a half variant of every kernel: the float32 kernels are tuned to C2's inlining
 * budget (see SimdScan), and a second load path in each of them would be a second set of kernels to
 * tune and keep equal; the conversions are vector passes over L1/L2-resident blocks ({@link
 * Kernels#halfToFloat}), and the float32 kernels then read from cache instead of memory, which pays
 * for them (the scan reads half the bytes from memory). The float64 exact path of the kernels (tails,
 * overflow guard) runs on the staged values too, so it sees exactly the rounded half inputs.
 */
public final class HalfScan {
    private HalfScan() {}

    /** Staged floats per activation tensor per block: 64 KiB each, u + delta + z + out = 256 KiB. */
    static final int STAGE_FLOATS = 16384;

    /** A thread's staging buffers, grown on demand and kept between calls. */
    private static final class Stage {
        MemorySegment u = MemorySegment.NULL, delta = MemorySegment.NULL, z = MemorySegment.NULL,
                out = MemorySegment.NULL, b = MemorySegment.NULL, c = MemorySegment.NULL;
        /** The (segment, element offset) of the half B/C rows staged in b, c (null: none). */
        MemorySegment bKey, cKey;
        long bKeyOff, cKeyOff;

        static MemorySegment fit(MemorySegment s, long floats) {
            // Arena.ofAuto: the buffers live as long as the thread's Stage (the pool's threads are long-lived)
            return s.byteSize() >= floats * 4 ? s : Arena.ofAuto().allocate(Math.max(floats, 16) * 4, 64);
        }
    }

    private static final ThreadLocal<Stage> STAGE = ThreadLocal.withInitial(Stage::new);

    /** Rows per block for this job (a multiple of the kernels' alignment). */
    static int blockRows(Kernels k, ScanJob j) {
        return blockRows(k.scanRowAlign(j), j.seqlen());
    }

    private static int blockRows(int align, int seqlen) {
        return Math.max(align, Math.max(1, STAGE_FLOATS / seqlen) / align * align);
    }

    /**
     * Bytes of one thread's staging for a scan of these sizes: the four row blocks plus B and C of one group.
     *
     * @param align the kernels' row alignment for the job ({@link Kernels#scanRowAlign})
     */
    public static long stagingBytes(int align, int seqlen, int dstate) {
        return 4L * ((long) blockRows(align, seqlen) * seqlen * 4 + 2L * dstate * seqlen);
    }

    /**
     * Rows {@code [rowFrom, rowTo)} of {@code j}, whose u, delta, z and variable B/C hold {@code dtype} values
     * and whose out holds {@code dtype} when {@code outHalf}, else float32 (A, D, delta_bias, constant B/C and
     * lastState are float32, as the validators require).
     */
    public static void scan(Kernels k, ScanJob j, DType dtype, boolean outHalf, int rowFrom, int rowTo) {
        Stage st = STAGE.get();
        st.bKey = null; // inputs may have changed since the last call
        st.cKey = null;
        final int l = j.seqlen(), dim = j.dim(), cpg = j.channelsPerGroup(), rows = blockRows(k, j);
        int row = rowFrom;
        while (row < rowTo) {
            int b = row / dim, d0 = row % dim;
            int groupEnd = b * dim + (d0 / cpg + 1) * cpg;
            int end = Math.min(rowTo, Math.min(groupEnd, row + rows));
            block(k, j, dtype, outHalf, st, row, end - row, l);
            row = end;
        }
    }

    private static void block(Kernels k, ScanJob j, DType dtype, boolean outHalf, Stage st, int row, int m, int l) {
        final int n = j.dstate(), dim = j.dim(), b = row / dim, d0 = row % dim;
        final long base = (long) row * l, cnt = (long) m * l;
        st.u = Stage.fit(st.u, cnt);
        st.delta = Stage.fit(st.delta, cnt);
        widen(k, dtype, j.u(), base, st.u, cnt);
        widen(k, dtype, j.delta(), base, st.delta, cnt);
        MemorySegment z = null;
        if (j.z() != null) {
            st.z = Stage.fit(st.z, cnt);
            widen(k, dtype, j.z(), base, st.z, cnt);
            z = st.z;
        }
        MemorySegment bs, cs;
        if (j.bVariable()) {
            long off = j.bRow(b, d0);
            if (st.bKey != j.b() || st.bKeyOff != off) {
                st.b = Stage.fit(st.b, (long) n * l);
                for (int s = 0; s < n; s++) widen(k, dtype, j.b(), off + s * j.bStateStride(), st.b.asSlice((long) s * l * 4), l);
                st.bKey = j.b();
                st.bKeyOff = off;
            }
            bs = st.b;
        } else {
            bs = j.b().asSlice((long) d0 * n * 4, (long) m * n * 4);
        }
        if (j.cVariable()) {
            long off = j.cRow(b, d0);
            if (st.cKey != j.c() || st.cKeyOff != off) {
                st.c = Stage.fit(st.c, (long) n * l);
                for (int s = 0; s < n; s++) widen(k, dtype, j.c(), off + s * j.cStateStride(), st.c.asSlice((long) s * l * 4), l);
                st.cKey = j.c();
                st.cKeyOff = off;
            }
            cs = st.c;
        } else {
            cs = j.c().asSlice((long) d0 * n * 4, (long) m * n * 4);
        }
        MemorySegment out;
        if (outHalf) {
            st.out = Stage.fit(st.out, cnt);
            out = st.out;
        } else {
            out = j.out().asSlice(base * 4, cnt * 4);
        }
        BCMode bMode = j.bVariable() ? BCMode.VARIABLE : BCMode.CONSTANT, cMode = j.cVariable() ? BCMode.VARIABLE : BCMode.CONSTANT;
        ScanJob sub = new ScanJob(st.u, st.delta, j.a().asSlice((long) d0 * n * 4, (long) m * n * 4),
                bs, bMode, 0, 0, 0, l,
                cs, cMode, 0, 0, 0, l,
                slice(j.dSkip(), d0, m), slice(j.deltaBias(), d0, m), z, j.softplus(),
                out, j.lastState() == null ? null : j.lastState().asSlice((long) row * n * 4, (long) m * n * 4),
                1, m, l, n, 1);
        k.scan(sub, 0, m);
        if (outHalf) {
            for (long done = 0; done < cnt; ) {
                int part = (int) Math.min(cnt - done, 1 << 20);
                k.floatToHalf(dtype, st.out, done, j.out(), base + done, part);
                done += part;
            }
        }
    }

    private static MemorySegment slice(MemorySegment s, int d0, int m) {
        return s == null ? null : s.asSlice((long) d0 * 4, (long) m * 4);
    }

    private static void widen(Kernels k, DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long cnt) {
        for (long done = 0; done < cnt; ) {
            int part = (int) Math.min(cnt - done, 1 << 20);
            k.halfToFloat(dtype, src, srcOff + done, dst, done, part);
            done += part;
        }
    }
}
