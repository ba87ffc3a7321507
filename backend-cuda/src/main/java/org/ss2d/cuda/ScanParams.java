package org.ss2d.cuda;

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

    /** Ss2dScanFlags. */
    static final long VARIABLE_B = 1, VARIABLE_C = 2, SOFTPLUS = 4;

    /** {@code SS2D_MAX_DSTATE} and {@code SS2D_SCAN_WARPS} of the header. */
    static final int MAX_DSTATE = 256;
    static final int WARPS = 4;

    private ScanParams() {}
}
