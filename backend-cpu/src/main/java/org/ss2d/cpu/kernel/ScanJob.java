package org.ss2d.cpu.kernel;

import java.lang.foreign.MemorySegment;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.Tensor;

/**
 * One selective scan as the kernels see it: segments plus element strides, so that the SS2D block can
 * point B and C into its x_proj output (rows R..R+N-1 and R+N..R+2N-1 of each route) without copying.
 *
 * <p>u, delta, z and out are {@code (batch, dim, seqlen)} contiguous; A is {@code (dim, dstate)};
 * constant B/C are {@code (dim, dstate)}; variable B/C element (b, g, n, t) sits at
 * {@code off + b*batchStride + g*groupStride + n*stateStride + t}. D, deltaBias, z, lastState may be null.
 */
public record ScanJob(MemorySegment u, MemorySegment delta, MemorySegment a,
                      MemorySegment b, BCMode bMode, long bOff, long bBatchStride, long bGroupStride, long bStateStride,
                      MemorySegment c, BCMode cMode, long cOff, long cBatchStride, long cGroupStride, long cStateStride,
                      MemorySegment dSkip, MemorySegment deltaBias, MemorySegment z, boolean softplus,
                      MemorySegment out, MemorySegment lastState,
                      int batch, int dim, int seqlen, int dstate, int groups) {

    public int channelsPerGroup() {
        return dim / groups;
    }

    /** Rows are (batch, channel) pairs: row = b * dim + d. */
    public int rows() {
        return batch * dim;
    }

    public boolean bVariable() {
        return bMode != BCMode.CONSTANT;
    }

    public boolean cVariable() {
        return cMode != BCMode.CONSTANT;
    }

    /** Element offset of B[b, group of d, n = 0, t = 0] (variable B). */
    public long bRow(int batchIndex, int d) {
        return bOff + batchIndex * bBatchStride + (long) (d / channelsPerGroup()) * bGroupStride;
    }

    public long cRow(int batchIndex, int d) {
        return cOff + batchIndex * cBatchStride + (long) (d / channelsPerGroup()) * cGroupStride;
    }

    /** A job over the API's tensors (validated by the facade); {@code out} is null for a backward's recomputation. */
    public static ScanJob of(ScanArgs a, ScanShape s, Tensor out, Tensor lastState) {
        long l = s.seqlen(), n = s.dstate(), g = s.groups();
        return new ScanJob(a.u().segment(), a.delta().segment(), a.A().segment(),
                a.B().segment(), s.bMode(), 0, g * n * l, n * l, l,
                a.C().segment(), s.cMode(), 0, g * n * l, n * l, l,
                seg(a.D()), seg(a.deltaBias()), seg(a.z()), a.deltaSoftplus(),
                out == null ? null : out.segment(), a.returnLastState() && lastState != null ? lastState.segment() : null,
                s.batch(), s.dim(), s.seqlen(), s.dstate(), s.groups());
    }

    private static MemorySegment seg(Tensor t) {
        return t == null ? null : t.segment();
    }
}
