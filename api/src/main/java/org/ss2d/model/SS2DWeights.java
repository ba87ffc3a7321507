package org.ss2d.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.tensor.Tensor;

/**
 * SS2D parameters under VMamba's state-dict names (channels-first v05_noz, no prefix). Shapes are
 * checked by {@code Validator.ss2dWeights}; see {@link #expectedShapes(SS2DConfig)}.
 */
public record SS2DWeights(SS2DConfig config, Tensor inProjWeight, Tensor conv2dWeight, Tensor conv2dBias,
                          Tensor xProjWeight, Tensor dtProjsWeight, Tensor dtProjsBias, Tensor aLogs, Tensor ds,
                          Tensor outNormWeight, Tensor outNormBias, Tensor outProjWeight) {

    public static final String IN_PROJ = "in_proj.weight";
    public static final String CONV_W = "conv2d.weight";
    public static final String CONV_B = "conv2d.bias";
    public static final String X_PROJ = "x_proj_weight";
    public static final String DT_W = "dt_projs_weight";
    public static final String DT_B = "dt_projs_bias";
    public static final String A_LOGS = "A_logs";
    public static final String DS = "Ds";
    public static final String NORM_W = "out_norm.weight";
    public static final String NORM_B = "out_norm.bias";
    public static final String OUT_PROJ = "out_proj.weight";

    /** Name to shape of every parameter the config needs (conv2d.bias only with conv_bias). */
    public static Map<String, long[]> expectedShapes(SS2DConfig c) {
        long di = c.dInner(), k = SS2DConfig.ROUTES;
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(IN_PROJ, new long[] {di, c.dModel()});
        m.put(CONV_W, new long[] {di, 1, c.dConv(), c.dConv()});
        if (c.convBias()) m.put(CONV_B, new long[] {di});
        m.put(X_PROJ, new long[] {k, c.xProjRows(), di});
        m.put(DT_W, new long[] {k, di, c.dtRank()});
        m.put(DT_B, new long[] {k, di});
        m.put(A_LOGS, new long[] {k * di, c.dState()});
        m.put(DS, new long[] {k * di});
        m.put(NORM_W, new long[] {di});
        m.put(NORM_B, new long[] {di});
        m.put(OUT_PROJ, new long[] {c.dModel(), di});
        return m;
    }

    /** The parameters by state-dict name (conv2d.bias present only when not null). */
    public Map<String, Tensor> asMap() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(IN_PROJ, inProjWeight);
        m.put(CONV_W, conv2dWeight);
        if (conv2dBias != null) m.put(CONV_B, conv2dBias);
        m.put(X_PROJ, xProjWeight);
        m.put(DT_W, dtProjsWeight);
        m.put(DT_B, dtProjsBias);
        m.put(A_LOGS, aLogs);
        m.put(DS, ds);
        m.put(NORM_W, outNormWeight);
        m.put(NORM_B, outNormBias);
        m.put(OUT_PROJ, outProjWeight);
        return m;
    }

    /**
     * Picks the parameters out of a state dict, {@code prefix} first (e.g. {@code layers.0.blocks.1.op.}).
     * Missing names throw; extra names under the prefix throw too, since they usually mean a
     * config that does not match the checkpoint.
     */
    public static SS2DWeights fromStateDict(SS2DConfig config, Map<String, Tensor> dict, String prefix) {
        Map<String, long[]> want = expectedShapes(config);
        StateDicts.checkNames("SS2D", want.keySet(), dict, prefix);
        java.util.function.Function<String, Tensor> g = n -> dict.get(prefix + n);
        return new SS2DWeights(config, g.apply(IN_PROJ), g.apply(CONV_W), config.convBias() ? g.apply(CONV_B) : null,
                g.apply(X_PROJ), g.apply(DT_W), g.apply(DT_B), g.apply(A_LOGS), g.apply(DS), g.apply(NORM_W),
                g.apply(NORM_B), g.apply(OUT_PROJ));
    }
}
