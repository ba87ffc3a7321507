package org.ss2d.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Which float32 weights a block or model with a half {@code dtype} option converts to that dtype, once: the
 * weights of its matrix products and convolutions (rank 2 and more: projections, depthwise and dense
 * convolution kernels, the head) and those layers' biases, as {@code torch.autocast} casts a Linear's or a
 * Conv's parameters. LayerNorm parameters stay float32 (autocast runs LayerNorm in float32), and so do the
 * scan's {@code A_logs}, {@code Ds} and {@code dt_projs_bias} (mamba's kernels take A, D and delta_bias in float32).
 * Backends and the reference follow this one rule.
 */
public final class HalfWeights {
    private HalfWeights() {}

    /** Whether parameter {@code name} of {@code params} (a block's or model's names) is converted in a half dtype. */
    public static boolean converted(String name, Map<String, Tensor> params) {
        // the scan's float32 parameters, whatever their rank (dt_projs_bias is (K, d_inner): rank 2, yet delta_bias)
        if (isScanParameter(name)) return false;
        Tensor t = params.get(name);
        if (t != null && t.rank() >= 2) return true;
        if (!name.endsWith(".bias")) return false;
        Tensor w = params.get(name.substring(0, name.length() - "bias".length()) + "weight");
        return w != null && w.rank() >= 2;
    }

    private static boolean isScanParameter(String name) {
        for (String p : new String[] {SS2DWeights.A_LOGS, SS2DWeights.DS, SS2DWeights.DT_B}) {
            if (name.equals(p) || name.endsWith("." + p)) return true;
        }
        return false;
    }

    /**
     * The weights as a backend computes with them in {@code dtype}: each converted parameter replaced by a float32
     * copy (in {@code scope}) holding its values rounded to {@code dtype}, the others the caller's own tensors.
     * For float32, {@code params} itself.
     */
    public static Map<String, Tensor> rounded(TensorScope scope, Map<String, Tensor> params, DType dtype) {
        if (dtype == DType.F32) return params;
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : params.entrySet()) {
            Tensor t = e.getValue();
            if (t == null || !converted(e.getKey(), params)) {
                out.put(e.getKey(), t);
                continue;
            }
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) v[i] = HalfFloats.round(dtype, v[i]);
            out.put(e.getKey(), scope.fromArray(e.getKey(), v, t.shape()));
        }
        return out;
    }

    /** {@link #rounded(TensorScope, Map, DType)} of an SS2D block's weights. */
    public static SS2DWeights rounded(TensorScope scope, SS2DWeights w, DType dtype) {
        if (dtype == DType.F32) return w;
        return SS2DWeights.fromStateDict(w.config(), rounded(scope, w.asMap(), dtype), "");
    }

    /** {@link #rounded(TensorScope, Map, DType)} of a VSS block's weights. */
    public static VSSWeights rounded(TensorScope scope, VSSWeights w, DType dtype) {
        if (dtype == DType.F32) return w;
        return VSSWeights.fromStateDict(w.config(), w.mlpRatio(), rounded(scope, w.asMap(), dtype), "");
    }
}
