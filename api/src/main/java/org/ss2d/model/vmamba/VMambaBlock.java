package org.ss2d.model.vmamba;

import java.util.Map;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;

/**
 * The parameters of one VSS block of a VMamba model ({@code layers.<i>.blocks.<j>.}), as views of the
 * model's tensors. {@code inProj} has {@code d_inner} rows (v05_noz) or {@code 2 d_inner} rows, x then z
 * (v0); the MLP tensors are null when the model has no MLP branch, {@code convBias} null without bias.
 * Linear weights may be 2-D or VMamba's 1x1-convolution form {@code (out, in, 1, 1)}: same bytes.
 */
public record VMambaBlock(SS2DConfig ss2d, boolean zGate, double mlpRatio, Tensor normWeight, Tensor normBias,
                          Tensor inProj, Tensor convWeight, Tensor convBias, Tensor xProj, Tensor dtProjsWeight,
                          Tensor dtProjsBias, Tensor aLogs, Tensor ds, Tensor outNormWeight, Tensor outNormBias,
                          Tensor outProj, Tensor norm2Weight, Tensor norm2Bias, Tensor fc1Weight, Tensor fc1Bias,
                          Tensor fc2Weight, Tensor fc2Bias) {

    static VMambaBlock of(VMambaConfig c, int stage, Map<String, Tensor> p, String prefix) {
        java.util.function.Function<String, Tensor> g = n -> p.get(prefix + n);
        String op = prefix + VSSWeights.OP;
        java.util.function.Function<String, Tensor> o = n -> p.get(op + n);
        return new VMambaBlock(c.ss2d(stage), c.forwardType() == VMambaConfig.ForwardType.V0, c.mlpRatio(),
                g.apply(VSSWeights.NORM_W), g.apply(VSSWeights.NORM_B), o.apply(SS2DWeights.IN_PROJ),
                o.apply(SS2DWeights.CONV_W), o.apply(SS2DWeights.CONV_B), o.apply(SS2DWeights.X_PROJ),
                o.apply(SS2DWeights.DT_W), o.apply(SS2DWeights.DT_B), o.apply(SS2DWeights.A_LOGS),
                o.apply(SS2DWeights.DS), o.apply(SS2DWeights.NORM_W), o.apply(SS2DWeights.NORM_B),
                o.apply(SS2DWeights.OUT_PROJ), g.apply(VSSWeights.NORM2_W), g.apply(VSSWeights.NORM2_B),
                g.apply(VSSWeights.FC1_W), g.apply(VSSWeights.FC1_B), g.apply(VSSWeights.FC2_W),
                g.apply(VSSWeights.FC2_B));
    }

    public boolean hasMlp() {
        return fc1Weight != null;
    }

    /** {@code int(d_model * mlp_ratio)}, 0 without MLP. */
    public int mlpHidden() {
        return (int) (ss2d.dModel() * mlpRatio);
    }

    /**
     * The SS2D part as the engine's v05_noz block weights (not for a z-gated v0 block, whose in_proj
     * has twice the rows). Linear weights in 1x1-convolution form are passed through as they are.
     */
    public SS2DWeights ss2dWeights() {
        if (zGate) throw new IllegalStateException("a v0 block's SS2D has a z branch: no v05_noz weights");
        return new SS2DWeights(ss2d, inProj, convWeight, convBias, xProj, dtProjsWeight, dtProjsBias, aLogs, ds,
                outNormWeight, outNormBias, outProj);
    }

    /** The block as the engine's VSS block weights (v05_noz with MLP only). */
    public VSSWeights vssWeights() {
        if (!hasMlp()) throw new IllegalStateException("a block without MLP is not a VSS block of the engine");
        return new VSSWeights(ss2dWeights(), mlpRatio, normWeight, normBias, norm2Weight, norm2Bias, fc1Weight, fc1Bias,
                fc2Weight, fc2Bias);
    }
}
