package org.ss2d.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.tensor.Tensor;

/**
 * VSS block ({@code post_norm=False}): {@code x = x + SS2D(LN(x)); x = x + MLP(LN2(x))}, MLP =
 * 1x1 Linear (C to hidden, bias) then GELU (erf) then 1x1 Linear (hidden to C, bias), hidden =
 * {@code int(C * mlpRatio)}. Names follow VMamba's {@code VSSBlock}: {@code norm.*}, {@code op.*},
 * {@code norm2.*}, {@code mlp.fc1.*}, {@code mlp.fc2.*}.
 */
public record VSSWeights(SS2DWeights op, double mlpRatio, Tensor normWeight, Tensor normBias, Tensor norm2Weight,
                         Tensor norm2Bias, Tensor fc1Weight, Tensor fc1Bias, Tensor fc2Weight, Tensor fc2Bias) {

    public static final String NORM_W = "norm.weight", NORM_B = "norm.bias", NORM2_W = "norm2.weight",
            NORM2_B = "norm2.bias", FC1_W = "mlp.fc1.weight", FC1_B = "mlp.fc1.bias", FC2_W = "mlp.fc2.weight",
            FC2_B = "mlp.fc2.bias", OP = "op.";

    /** {@return the SS2D sizes of the block} */
    public SS2DConfig config() {
        return op.config();
    }

    /** {@code int(d_model * mlp_ratio)}. */
    public static int hidden(SS2DConfig c, double mlpRatio) {
        return (int) (c.dModel() * mlpRatio);
    }

    /** Name to shape of the block's own parameters (the SS2D ones come under {@code op.}). */
    public static Map<String, long[]> expectedShapes(SS2DConfig c, double mlpRatio) {
        long dm = c.dModel(), h = hidden(c, mlpRatio);
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(NORM_W, new long[] {dm});
        m.put(NORM_B, new long[] {dm});
        m.put(NORM2_W, new long[] {dm});
        m.put(NORM2_B, new long[] {dm});
        m.put(FC1_W, new long[] {h, dm});
        m.put(FC1_B, new long[] {h});
        m.put(FC2_W, new long[] {dm, h});
        m.put(FC2_B, new long[] {dm});
        for (var e : SS2DWeights.expectedShapes(c).entrySet()) m.put(OP + e.getKey(), e.getValue());
        return m;
    }

    /** {@return every tensor by its state-dict name (VMamba's, relative to the block), in a fixed order} */
    public Map<String, Tensor> asMap() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(NORM_W, normWeight);
        m.put(NORM_B, normBias);
        m.put(NORM2_W, norm2Weight);
        m.put(NORM2_B, norm2Bias);
        m.put(FC1_W, fc1Weight);
        m.put(FC1_B, fc1Bias);
        m.put(FC2_W, fc2Weight);
        m.put(FC2_B, fc2Bias);
        for (var e : op.asMap().entrySet()) m.put(OP + e.getKey(), e.getValue());
        return m;
    }

    /**
     * The block's weights from a state dict, by VMamba's names under {@code prefix}.
     *
     * @param config   the SS2D sizes
     * @param mlpRatio hidden width of the MLP over d_model
     * @param dict     tensors by name
     * @param prefix   the block's prefix in {@code dict} (e.g. {@code layers.0.blocks.1.})
     * @return the weights (the dict's tensors, not copies)
     * @throws org.ss2d.validate.Ss2dArgumentException naming a missing or unexpected key
     */
    public static VSSWeights fromStateDict(SS2DConfig config, double mlpRatio, Map<String, Tensor> dict, String prefix) {
        StateDicts.checkNames("VSS block", expectedShapes(config, mlpRatio).keySet(), dict, prefix);
        SS2DWeights op = SS2DWeights.fromStateDict(config, dict, prefix + OP);
        java.util.function.Function<String, Tensor> g = n -> dict.get(prefix + n);
        return new VSSWeights(op, mlpRatio, g.apply(NORM_W), g.apply(NORM_B), g.apply(NORM2_W), g.apply(NORM2_B),
                g.apply(FC1_W), g.apply(FC1_B), g.apply(FC2_W), g.apply(FC2_B));
    }
}
