package org.ss2d.model.vmamba;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Seeded weights for a whole VMamba model, drawn as VMamba initialises it (truncated normal 0.02 for
 * Linear weights, PyTorch's uniform bounds for convolutions, {@code mamba_init} for the SS2D parameters)
 * with LayerNorm affine parameters perturbed around (1, 0), so that a kernel ignoring them is caught.
 */
public final class VMambaRandomWeights {
    private VMambaRandomWeights() {}

    public static VMambaWeights of(TensorScope scope, VMambaConfig c, long seed) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        SplittableRandom r = new SplittableRandom(seed);
        for (var e : VMambaWeights.expectedShapes(c).entrySet()) {
            String n = e.getKey();
            if (n.contains(".op.")) continue; // whole SS2D parts below
            m.put(n, draw(scope, r, n, e.getValue()));
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            SS2DConfig s = c.ss2d(i);
            for (int j = 0; j < c.depth(i); j++) {
                String p = VMambaWeights.blockPrefix(i, j) + "op.";
                SS2DWeights w = RandomWeights.ss2d(scope, s, r.nextLong());
                for (var e : w.asMap().entrySet()) m.put(p + e.getKey(), e.getValue());
                if (c.forwardType() == VMambaConfig.ForwardType.V0) {
                    w.inProjWeight().close();
                    m.put(p + SS2DWeights.IN_PROJ, normal(scope, r, 0.02, 2L * s.dInner(), s.dModel()));
                }
            }
        }
        // back into forward order
        Map<String, Tensor> ordered = new LinkedHashMap<>();
        for (String n : VMambaWeights.expectedShapes(c).keySet()) ordered.put(n, m.get(n));
        return new VMambaWeights(c, ordered);
    }

    /** Adds {@code outnorm<i>} LayerNorms (a Backbone_VSSM's) to seeded weights. */
    public static VMambaWeights withOutNorms(TensorScope scope, VMambaWeights w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>(w.params());
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            m.put("outnorm" + i + ".weight", around(scope, r, 1.0, 0.1, w.config().dim(i)));
            m.put("outnorm" + i + ".bias", around(scope, r, 0.0, 0.1, w.config().dim(i)));
        }
        return new VMambaWeights(w.config(), m);
    }

    private static Tensor draw(TensorScope scope, SplittableRandom r, String n, long[] shape) {
        boolean norm = n.startsWith("patch_embed.2.") || n.startsWith("patch_embed.7.") || n.contains(".norm.")
                || n.contains(".norm2.") || n.contains("downsample.3.") || n.startsWith("classifier.norm.");
        if (norm) return around(scope, r, n.endsWith("weight") ? 1.0 : 0.0, 0.1, shape);
        if (shape.length == 4) { // convolutions: kaiming-uniform bound 1/sqrt(fan_in)
            return uniform(scope, r, 1.0 / Math.sqrt((double) shape[1] * shape[2] * shape[3]), shape);
        }
        if (n.endsWith(".bias") && !n.startsWith("classifier.head") && !n.contains("mlp.")) {
            // a convolution's bias: the bound of its weight's fan-in is not at hand; 0.1 is of that order
            return uniform(scope, r, 0.1, shape);
        }
        if (n.endsWith(".bias")) return around(scope, r, 0.0, 0.02, shape);
        return normal(scope, r, 0.02, shape);
    }

    private static Tensor normal(TensorScope scope, SplittableRandom r, double std, long... shape) {
        return RandomWeights.truncatedNormal(scope, r, std, 2.0, shape);
    }

    private static Tensor uniform(TensorScope scope, SplittableRandom r, double bound, long... shape) {
        return RandomWeights.uniform(scope, r, bound, shape);
    }

    private static Tensor around(TensorScope scope, SplittableRandom r, double mean, double std, long... shape) {
        return RandomWeights.around(scope, r, mean, std, shape);
    }
}
