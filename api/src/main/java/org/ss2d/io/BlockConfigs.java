package org.ss2d.io;

import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Shapes;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Derives an SS2D config (and a VSS block's mlp_ratio) from the shapes of the weight columns, and
 * checks it against the options that the file gives: the contract says every option is derivable
 * from the shapes and, when given, must agree.
 */
final class BlockConfigs {
    private BlockConfigs() {}

    static SS2DConfig ss2d(CaseFile f, String prefix, CaseOptions o) {
        long[] inProj = shape(f, prefix + SS2DWeights.IN_PROJ, 2, "(d_inner, d_model)");
        long[] conv = shape(f, prefix + SS2DWeights.CONV_W, 4, "(d_inner, 1, k, k)");
        long[] dt = shape(f, prefix + SS2DWeights.DT_W, 3, "(4, d_inner, dt_rank)");
        long[] aLogs = shape(f, prefix + SS2DWeights.A_LOGS, 2, "(4*d_inner, d_state)");
        int dModel = size(prefix + SS2DWeights.IN_PROJ, inProj[1]);
        int dInner = size(prefix + SS2DWeights.IN_PROJ, inProj[0]);
        int dState = size(prefix + SS2DWeights.A_LOGS, aLogs[1]);
        int dtRank = size(prefix + SS2DWeights.DT_W, dt[2]);
        int dConv = size(prefix + SS2DWeights.CONV_W, conv[2]);
        boolean convBias = f.has(prefix + SS2DWeights.CONV_B);
        double ssmRatio = ratio(dInner, dModel);

        agree(o, "d_state", dState, SS2DWeights.A_LOGS);
        agree(o, "d_conv", dConv, SS2DWeights.CONV_W);
        if (o.isText("dt_rank")) {
            if (!"auto".equals(o.text("dt_rank"))) {
                throw new Ss2dArgumentException("options.dt_rank", "an integer or \"auto\"", "\"" + o.text("dt_rank") + "\"", null);
            }
            if (dtRank != SS2DConfig.autoDtRank(dModel)) {
                throw new Ss2dArgumentException("options.dt_rank", dtRank + " (from " + SS2DWeights.DT_W + ")",
                        "\"auto\" = ceil(" + dModel + "/16) = " + SS2DConfig.autoDtRank(dModel), null);
            }
        } else {
            agree(o, "dt_rank", dtRank, SS2DWeights.DT_W);
        }
        Double given = o.number("ssm_ratio");
        if (given != null && (int) (given * dModel) != dInner) {
            throw new Ss2dArgumentException("options.ssm_ratio", "a ratio with int(ssm_ratio * d_model) = d_inner = "
                    + dInner + " (from " + SS2DWeights.IN_PROJ + ")", given + " (gives " + (int) (given * dModel) + ")", null);
        }
        if (o.has("conv_bias") && o.bool("conv_bias", false) != convBias) {
            throw new Ss2dArgumentException("options.conv_bias", convBias + " (column " + prefix + SS2DWeights.CONV_B
                    + (convBias ? " present)" : " absent)"), Boolean.toString(!convBias), null);
        }
        return new SS2DConfig(dModel, dState, given != null ? given : ssmRatio, dtRank, dConv, convBias);
    }

    /** mlp_ratio from {@code mlp.fc1.weight (hidden, d_model)}, checked against the option. */
    static double mlpRatio(CaseFile f, int dModel, CaseOptions o) {
        long[] fc1 = shape(f, VSSWeights.FC1_W, 2, "(hidden, d_model)");
        int hidden = size(VSSWeights.FC1_W, fc1[0]);
        Double given = o.number("mlp_ratio");
        if (given != null) {
            if ((int) (dModel * given) != hidden) {
                throw new Ss2dArgumentException("options.mlp_ratio", "a ratio with int(d_model * mlp_ratio) = hidden = "
                        + hidden + " (from " + VSSWeights.FC1_W + ")", given + " (gives " + (int) (dModel * given) + ")", null);
            }
            return given;
        }
        return ratio(hidden, dModel);
    }

    /** A double r with {@code (int) (r * whole) == part}, as Python's int(ratio * d_model). */
    private static double ratio(int part, int whole) {
        double r = (double) part / whole;
        while ((int) (r * whole) < part) r = Math.nextUp(r); // guard against 0.1-style rounding down
        return r;
    }

    private static long[] shape(CaseFile f, String column, int rank, String layout) {
        long[] s = f.shape(column);
        if (s.length != rank) {
            throw new Ss2dArgumentException(column, "rank " + rank + " " + layout, "shape " + Shapes.format(s), null);
        }
        return s;
    }

    private static int size(String column, long v) {
        if (v < 1 || v > Integer.MAX_VALUE) {
            throw new Ss2dArgumentException(column, "sizes between 1 and " + Integer.MAX_VALUE, Long.toString(v), null);
        }
        return (int) v;
    }

    private static void agree(CaseOptions o, String key, int derived, String from) {
        Long given = o.integer(key);
        if (given != null && given != derived) {
            throw new Ss2dArgumentException("options." + key, derived + " (from " + from + ")", Long.toString(given), null);
        }
    }
}
