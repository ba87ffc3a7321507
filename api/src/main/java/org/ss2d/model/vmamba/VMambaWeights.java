package org.ss2d.model.vmamba;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The parameters of a VMamba model under VMamba's state-dict names ({@code patch_embed.<i>.*},
 * {@code layers.<i>.blocks.<j>.*}, {@code layers.<i>.downsample.*}, {@code classifier.norm.*},
 * {@code classifier.head.*}, and the backbone's optional {@code outnorm<i>.*}). The tensors are the
 * caller's (a safetensors file's zero-copy views, say): nothing is copied, and they must stay open while
 * a model built from them runs.
 *
 * @param config the network
 * @param params canonical name to tensor, every name of {@link #expectedShapes} plus any
 *               {@code outnorm<i>} present
 */
public record VMambaWeights(VMambaConfig config, Map<String, Tensor> params) {

    public VMambaWeights {
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /**
     * Loads a state dict, inferring the configuration from its shapes ({@link VMambaStateDicts#inferConfig}).
     *
     * @throws Ss2dArgumentException naming the key that is missing, left over, mis-shaped or not float32
     */
    public static VMambaWeights fromStateDict(Map<String, Tensor> dict) {
        Map<String, Tensor> canon = VMambaStateDicts.canonical(dict);
        return fromCanonical(VMambaStateDicts.inferConfig(canon), canon);
    }

    /**
     * Loads a state dict for a given configuration. VMamba's legacy names are renamed as its loader does
     * ({@code patch_embed.proj} to {@code patch_embed.0}, {@code ln_1} to {@code norm}, {@code head} to
     * {@code classifier.head}, ...). Keys named {@code outnorm*} that the model does not use and
     * optimizer entries are ignored; any other left-over key is an error.
     *
     * @throws Ss2dArgumentException naming the key that is missing, left over, mis-shaped or not float32
     */
    public static VMambaWeights fromStateDict(VMambaConfig config, Map<String, Tensor> dict) {
        return fromCanonical(config, VMambaStateDicts.canonical(dict));
    }

    private static VMambaWeights fromCanonical(VMambaConfig config, Map<String, Tensor> dict) {
        VMambaStateDicts.checkConfig(config);
        Map<String, long[]> want = expectedShapes(config);
        Map<String, Tensor> out = new LinkedHashMap<>();
        java.util.List<String> missing = new java.util.ArrayList<>();
        for (String n : want.keySet()) if (dict.get(n) == null) missing.add(n);
        if (!missing.isEmpty()) {
            throw new Ss2dArgumentException(missing.getFirst(), "a parameter of " + config.name() + " present",
                    "missing key(s) " + (missing.size() > 8 ? missing.subList(0, 8) + " and " + (missing.size() - 8)
                            + " more" : missing), null);
        }
        java.util.TreeSet<String> extra = new java.util.TreeSet<>();
        for (var e : dict.entrySet()) {
            String k = e.getKey();
            if (want.containsKey(k)) continue;
            if (VMambaStateDicts.isOutNorm(k, config)) {
                out.put(k, e.getValue());
            } else if (!VMambaStateDicts.ignorable(k)) {
                extra.add(k);
            }
        }
        if (!extra.isEmpty()) {
            throw new Ss2dArgumentException(extra.first(), "only the parameters of " + config,
                    "unexpected key(s) " + (extra.size() > 8 ? new java.util.ArrayList<>(extra).subList(0, 8)
                            + " and " + (extra.size() - 8) + " more" : extra), null);
        }
        for (var e : want.entrySet()) out.put(e.getKey(), dict.get(e.getKey()));
        VMambaWeights w = new VMambaWeights(config, out);
        w.checkShapes();
        return w;
    }

    /** Every tensor float32 with the shape {@link #expectedShapes} (or an outnorm's) names. */
    public void checkShapes() {
        Map<String, long[]> want = expectedShapes(config);
        for (var e : params.entrySet()) {
            String k = e.getKey();
            Tensor t = e.getValue();
            long[] shape = want.containsKey(k) ? want.get(k) : new long[] {config.dim(VMambaStateDicts.outNormStage(k))};
            if (t == null) throw new Ss2dArgumentException(k, "a tensor", "null", null);
            if (t.isClosed()) throw new IllegalStateException(k + ": " + t.describe() + " was used after it was closed");
            if (t.dtype() != DType.F32) throw new Ss2dArgumentException(k, "dtype F32", t.describe(), null);
            if (!shapeMatches(t.shape(), shape, k)) {
                throw new Ss2dArgumentException(k, "shape " + Shapes.format(shape)
                        + (isLinear(k) ? " (or " + Shapes.format(shape) + " + (1, 1))" : ""), t.describe(), null);
            }
        }
    }

    /** Linear weights may come in VMamba's Linear2d/1x1-convolution form (out, in, 1, 1). */
    private static boolean shapeMatches(long[] have, long[] want, String name) {
        if (Arrays.equals(have, want)) return true;
        return isLinear(name) && have.length == 4 && have[2] == 1 && have[3] == 1 && have[0] == want[0]
                && have[1] == want[1];
    }

    private static boolean isLinear(String name) {
        return name.endsWith("in_proj.weight") || name.endsWith("out_proj.weight") || name.endsWith("fc1.weight")
                || name.endsWith("fc2.weight") || name.endsWith("reduction.weight");
    }

    /** The tensor of a canonical name; null for an absent optional one ({@code outnorm<i>}). */
    public Tensor get(String name) {
        return params.get(name);
    }

    /** The parameters of block {@code j} of {@code stage}. */
    public VMambaBlock block(int stage, int j) {
        return VMambaBlock.of(config, stage, params, blockPrefix(stage, j));
    }

    /** {@code outnorm<i>.weight} and {@code .bias} when the state dict had them (a Backbone_VSSM's), else null. */
    public Tensor[] outNorm(int stage) {
        Tensor w = params.get("outnorm" + stage + ".weight"), b = params.get("outnorm" + stage + ".bias");
        return w == null || b == null ? null : new Tensor[] {w, b};
    }

    public static String blockPrefix(int stage, int j) {
        return "layers." + stage + ".blocks." + j + ".";
    }

    /**
     * Name to shape of every parameter a configuration needs, in forward order. Linear weights are
     * listed 2-D; {@code (out, in, 1, 1)} is accepted for them too.
     */
    public static Map<String, long[]> expectedShapes(VMambaConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long in = c.inChans(), d0 = c.dim(0);
        if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
            m.put("patch_embed.0.weight", new long[] {d0, in, c.patchSize(), c.patchSize()});
            m.put("patch_embed.0.bias", new long[] {d0});
            m.put("patch_embed.2.weight", new long[] {d0});
            m.put("patch_embed.2.bias", new long[] {d0});
        } else {
            long h = c.stemHidden(), k = c.patchSize() / 2 + 1;
            m.put("patch_embed.0.weight", new long[] {h, in, k, k});
            m.put("patch_embed.0.bias", new long[] {h});
            m.put("patch_embed.2.weight", new long[] {h});
            m.put("patch_embed.2.bias", new long[] {h});
            m.put("patch_embed.5.weight", new long[] {d0, h, k, k});
            m.put("patch_embed.5.bias", new long[] {d0});
            m.put("patch_embed.7.weight", new long[] {d0});
            m.put("patch_embed.7.bias", new long[] {d0});
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            for (int j = 0; j < c.depth(i); j++) putBlock(m, c, i, blockPrefix(i, j));
            if (i + 1 < VMambaConfig.STAGES) putDownsample(m, c, i);
        }
        if (c.hasClassifier()) {
            long d3 = c.dim(3);
            m.put("classifier.norm.weight", new long[] {d3});
            m.put("classifier.norm.bias", new long[] {d3});
            m.put("classifier.head.weight", new long[] {c.numClasses(), d3});
            m.put("classifier.head.bias", new long[] {c.numClasses()});
        }
        return m;
    }

    private static void putBlock(Map<String, long[]> m, VMambaConfig c, int stage, String p) {
        var s = c.ss2d(stage);
        long dm = s.dModel();
        m.put(p + VSSWeights.NORM_W, new long[] {dm});
        m.put(p + VSSWeights.NORM_B, new long[] {dm});
        for (var e : SS2DWeights.expectedShapes(s).entrySet()) {
            long[] shape = e.getValue();
            if (e.getKey().equals(SS2DWeights.IN_PROJ) && c.forwardType() == VMambaConfig.ForwardType.V0) {
                shape = new long[] {2L * s.dInner(), dm}; // x and z
            }
            m.put(p + VSSWeights.OP + e.getKey(), shape);
        }
        if (c.hasMlp()) {
            long h = c.mlpHidden(stage);
            m.put(p + VSSWeights.NORM2_W, new long[] {dm});
            m.put(p + VSSWeights.NORM2_B, new long[] {dm});
            m.put(p + VSSWeights.FC1_W, new long[] {h, dm});
            m.put(p + VSSWeights.FC1_B, new long[] {h});
            m.put(p + VSSWeights.FC2_W, new long[] {dm, h});
            m.put(p + VSSWeights.FC2_B, new long[] {dm});
        }
    }

    private static void putDownsample(Map<String, long[]> m, VMambaConfig c, int i) {
        String p = "layers." + i + ".downsample.";
        long d = c.dim(i), o = c.dim(i + 1);
        switch (c.downsample()) {
            case V1 -> {
                m.put(p + "reduction.weight", new long[] {o, 4 * d});
                m.put(p + "norm.weight", new long[] {4 * d});
                m.put(p + "norm.bias", new long[] {4 * d});
            }
            case V2, V3 -> {
                long k = c.downsample() == VMambaConfig.Downsample.V2 ? 2 : 3;
                m.put(p + "1.weight", new long[] {o, d, k, k});
                m.put(p + "1.bias", new long[] {o});
                m.put(p + "3.weight", new long[] {o});
                m.put(p + "3.bias", new long[] {o});
            }
        }
    }
}
