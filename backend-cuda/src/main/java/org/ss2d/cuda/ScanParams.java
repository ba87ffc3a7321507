package org.ss2d.cuda;

import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;

/**
 * Field indices of {@code ScanParams} in {@code src/main/cuda/ss2d_params.h}: 32 eight-byte fields
 * (pointers and int64). ScanParamsLayoutTest reads the header and checks this order.
 */
final class ScanParams {
    static final int U = 0, DELTA = 1, A = 2, B = 3, C = 4, D = 5, Z = 6, DELTA_BIAS = 7, OUT = 8, LAST_STATE = 9,
            BATCH = 10, DIM = 11, SEQLEN = 12, DSTATE = 13, GROUPS = 14, FLAGS = 15,
            U_BATCH_STRIDE = 16, U_DIM_STRIDE = 17, DELTA_BATCH_STRIDE = 18, DELTA_DIM_STRIDE = 19,
            Z_BATCH_STRIDE = 20, Z_DIM_STRIDE = 21, OUT_BATCH_STRIDE = 22, OUT_DIM_STRIDE = 23,
            A_DIM_STRIDE = 24, A_STATE_STRIDE = 25, B_BATCH_STRIDE = 26, B_GROUP_STRIDE = 27, B_STATE_STRIDE = 28,
            C_BATCH_STRIDE = 29, C_GROUP_STRIDE = 30, C_STATE_STRIDE = 31;
    static final int FIELDS = 32;

    /** The names in header order, for the layout test. */
    static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias", "out", "last_state",
            "batch", "dim", "seqlen", "dstate", "groups", "flags", "u_batch_stride", "u_dim_stride",
            "delta_batch_stride", "delta_dim_stride", "z_batch_stride", "z_dim_stride", "out_batch_stride",
            "out_dim_stride", "A_dim_stride", "A_state_stride", "B_batch_stride", "B_group_stride", "B_state_stride",
            "C_batch_stride", "C_group_stride", "C_state_stride"};

    /** Field indices of {@code ScanBwdParams}, the backward's companion block (13 eight-byte fields). */
    static final int BWD_DOUT = 0, BWD_DLAST = 1, BWD_DU = 2, BWD_DDELTA = 3, BWD_DZ = 4, BWD_CKPT = 5, BWD_ROWS = 6,
            BWD_DB = 7, BWD_DC = 8, BWD_SEG = 9, BWD_NSEG = 10, BWD_B_SLICE_STRIDE = 11, BWD_C_SLICE_STRIDE = 12;
    static final int BWD_FIELDS = 13;

    /** The backward block's names in header order, for the layout test. */
    static final String[] BWD_NAMES = {"dout", "dlast", "du", "ddelta", "dz", "ckpt", "rows", "dB", "dC", "seg", "nseg",
            "b_slice_stride", "c_slice_stride"};

    /** Ss2dScanFlags. */
    static final long VARIABLE_B = 1, VARIABLE_C = 2, SOFTPLUS = 4;

    /** {@code SS2D_MAX_DSTATE} and {@code SS2D_SCAN_WARPS} of the header. */
    static final int MAX_DSTATE = 256;
    static final int WARPS = 4;

    private ScanParams() {}

    /**
     * A parameter block for {@code s} with the strides of contiguous tensors in the layouts of
     * {@code ScanArgs}: sizes, flags, and u/delta/z/out/A/B/C strides; the pointers are left 0.
     */
    static long[] forShape(ScanShape s, boolean softplus) {
        long[] p = new long[FIELDS];
        long len = s.seqlen(), n = s.dstate(), groups = s.groups();
        p[BATCH] = s.batch();
        p[DIM] = s.dim();
        p[SEQLEN] = len;
        p[DSTATE] = n;
        p[GROUPS] = groups;
        boolean varB = s.bMode() != BCMode.CONSTANT, varC = s.cMode() != BCMode.CONSTANT;
        p[FLAGS] = (varB ? VARIABLE_B : 0) | (varC ? VARIABLE_C : 0) | (softplus ? SOFTPLUS : 0);
        long batch = s.dim() * len;
        p[U_BATCH_STRIDE] = p[DELTA_BATCH_STRIDE] = p[Z_BATCH_STRIDE] = p[OUT_BATCH_STRIDE] = batch;
        p[U_DIM_STRIDE] = p[DELTA_DIM_STRIDE] = p[Z_DIM_STRIDE] = p[OUT_DIM_STRIDE] = len;
        p[A_DIM_STRIDE] = n;
        p[A_STATE_STRIDE] = 1;
        // variable (batch, [groups,] N, L): batch, group, state strides; constant (dim, N): dim stride in the group slot
        if (varB) bcStrides(p, B_BATCH_STRIDE, groups * n * len, n * len, len); else bcStrides(p, B_BATCH_STRIDE, 0, n, 1);
        if (varC) bcStrides(p, C_BATCH_STRIDE, groups * n * len, n * len, len); else bcStrides(p, C_BATCH_STRIDE, 0, n, 1);
        return p;
    }

    /** Sets B's ({@code first = B_BATCH_STRIDE}) or C's ({@code C_BATCH_STRIDE}) three strides. */
    static void bcStrides(long[] p, int first, long batchStride, long groupStride, long stateStride) {
        p[first] = batchStride;
        p[first + 1] = groupStride;
        p[first + 2] = stateStride;
    }
}
