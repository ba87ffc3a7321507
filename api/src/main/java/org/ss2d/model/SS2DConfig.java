package org.ss2d.model;

/**
 * SS2D configuration, VMamba's {@code SS2Dv2} with {@code forward_type="v05_noz"}:
 * {@code d_inner = int(ssm_ratio * d_model)}, {@code dt_rank = ceil(d_model / 16)} when "auto", four
 * routes, depthwise {@code d_conv x d_conv} convolution with padding {@code (d_conv - 1) / 2}.
 */
public record SS2DConfig(int dModel, int dState, double ssmRatio, int dtRank, int dConv, boolean convBias) {
    /** Number of CrossScan routes. */
    public static final int ROUTES = 4;

    /** VMamba's defaults for the released v2 models: dt_rank auto, d_conv 3, no conv bias. */
    public static SS2DConfig of(int dModel, int dState, double ssmRatio) {
        return new SS2DConfig(dModel, dState, ssmRatio, autoDtRank(dModel), 3, false);
    }

    /** {@code ceil(d_model / 16)}, VMamba's "auto" (of d_model, not d_inner). */
    public static int autoDtRank(int dModel) {
        return (dModel + 15) / 16;
    }

    /** {@code int(ssm_ratio * d_model)}, truncated as Python's int() does. */
    public int dInner() {
        return (int) (ssmRatio * dModel);
    }

    /** Rows of x_proj per route: {@code dt_rank + 2 * d_state}. */
    public int xProjRows() {
        return dtRank + 2 * dState;
    }

    /**
     * @param bias whether the depthwise conv has a bias
     * @return this config with that setting
     */
    public SS2DConfig withConvBias(boolean bias) {
        return new SS2DConfig(dModel, dState, ssmRatio, dtRank, dConv, bias);
    }

    /**
     * @param k the depthwise conv's kernel size (odd)
     * @return this config with that kernel size
     */
    public SS2DConfig withDConv(int k) {
        return new SS2DConfig(dModel, dState, ssmRatio, dtRank, k, convBias);
    }
}
