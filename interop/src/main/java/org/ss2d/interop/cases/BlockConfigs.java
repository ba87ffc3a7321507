package org.ss2d.interop.cases;

import org.ss2d.model.ConfigInference;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The SS2D config (and a VSS block's mlp_ratio) of a case file: inferred from the weight columns' shapes
 * by {@link ConfigInference}, then checked against the options that the file gives: the contract says every option is derivable
 * from the shapes and, when given, must agree.
 */
final class BlockConfigs {
    private BlockConfigs() {}

    static SS2DConfig ss2d(CaseFile f, String prefix, CaseOptions o) {
        SS2DConfig derived = ConfigInference.ss2d(f::shapeIfPresent, prefix);
        int dModel = derived.dModel();
        int dInner = derived.dInner();
        int dState = derived.dState();
        int dtRank = derived.dtRank();
        int dConv = derived.dConv();
        boolean convBias = derived.convBias();
        double ssmRatio = derived.ssmRatio();

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
        double derived = ConfigInference.mlpRatio(f::shapeIfPresent, "", dModel);
        int hidden = (int) (dModel * derived);
        Double given = o.number("mlp_ratio");
        if (given != null) {
            if ((int) (dModel * given) != hidden) {
                throw new Ss2dArgumentException("options.mlp_ratio", "a ratio with int(d_model * mlp_ratio) = hidden = "
                        + hidden + " (from " + VSSWeights.FC1_W + ")", given + " (gives " + (int) (dModel * given) + ")", null);
            }
            return given;
        }
        return derived;
    }

    private static void agree(CaseOptions o, String key, int derived, String from) {
        Long given = o.integer(key);
        if (given != null && given != derived) {
            throw new Ss2dArgumentException("options." + key, derived + " (from " + from + ")", Long.toString(given), null);
        }
    }
}
