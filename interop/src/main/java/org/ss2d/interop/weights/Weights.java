package org.ss2d.interop.weights;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;
import org.ss2d.validate.Validator;

/**
 * SS2D and VSS-block weights out of a checkpoint under VMamba's state-dict names, optionally below a
 * prefix such as {@code layers.0.blocks.1.op.}. Names are checked against the config before any bytes
 * are read (missing key, unexpected key under the prefix), then dtypes while loading, then shapes by
 * {@link Validator}; every error names the key as it is spelled in the checkpoint.
 */
public final class Weights {
    private Weights() {}

    /** SS2D parameters under {@code prefix} ({@code ""} for none; a missing trailing dot is added). */
    public static SS2DWeights ss2d(StateDictSource src, SS2DConfig config, String prefix) {
        Validator.ss2dConfig(config);
        String p = normalize(prefix);
        Map<String, Tensor> dict = loadExactly(src, "SS2D", SS2DWeights.expectedShapes(config).keySet(), p);
        SS2DWeights w = SS2DWeights.fromStateDict(config, dict, p);
        Validator.ss2dWeights(w, p);
        return w;
    }

    /** VSS-block parameters ({@code norm.*}, {@code op.*}, {@code norm2.*}, {@code mlp.*}) under {@code prefix}. */
    public static VSSWeights vss(StateDictSource src, SS2DConfig config, double mlpRatio, String prefix) {
        Validator.ss2dConfig(config);
        String p = normalize(prefix);
        Map<String, Tensor> dict = loadExactly(src, "VSS block", VSSWeights.expectedShapes(config, mlpRatio).keySet(), p);
        VSSWeights w = VSSWeights.fromStateDict(config, mlpRatio, dict, p);
        Validator.vssWeights(w, p);
        return w;
    }

    /**
     * Infers the SS2D config from the shapes under {@code prefix} (d_model and d_inner from
     * {@code in_proj.weight}, d_state from {@code A_logs}, dt_rank from {@code dt_projs_weight}, d_conv
     * from {@code conv2d.weight}, conv bias from the presence of {@code conv2d.bias}).
     */
    public static SS2DConfig inferSs2dConfig(StateDictSource src, String prefix) {
        String p = normalize(prefix);
        long[] in = shape(src, p + SS2DWeights.IN_PROJ, 2);
        long[] a = shape(src, p + SS2DWeights.A_LOGS, 2);
        long[] dt = shape(src, p + SS2DWeights.DT_W, 3);
        long[] conv = shape(src, p + SS2DWeights.CONV_W, 4);
        int dModel = (int) in[1], dInner = (int) in[0];
        double ratio = (double) dInner / dModel;
        if ((int) (ratio * dModel) != dInner) {
            throw new Ss2dArgumentException(p + SS2DWeights.IN_PROJ, "d_inner = int(ssm_ratio * d_model)",
                    "d_inner " + dInner + " not reachable from d_model " + dModel, null);
        }
        return new SS2DConfig(dModel, (int) a[1], ratio, (int) dt[2], (int) conv[2],
                src.keys().contains(p + SS2DWeights.CONV_B));
    }

    /** Every name an SS2D or VSS-block parameter can have (for sources that ignore other keys). */
    private static final Set<String> PARAMETER_NAMES = parameterNames();

    private static Set<String> parameterNames() {
        SS2DConfig any = new SS2DConfig(1, 1, 1, 1, 1, true);
        Set<String> s = new java.util.HashSet<>(VSSWeights.expectedShapes(any, 1).keySet());
        s.addAll(SS2DWeights.expectedShapes(any).keySet());
        return Set.copyOf(s);
    }

    static String normalize(String prefix) {
        if (prefix == null || prefix.isEmpty()) return "";
        return prefix.endsWith(".") ? prefix : prefix + ".";
    }

    /** Loads exactly the wanted names under the prefix; missing and unexpected keys fail before any load. */
    private static Map<String, Tensor> loadExactly(StateDictSource src, String what, Set<String> want, String prefix) {
        List<String> missing = new ArrayList<>();
        for (String n : want) {
            if (!src.keys().contains(prefix + n)) missing.add(prefix + n);
        }
        if (!missing.isEmpty()) {
            throw new Ss2dArgumentException(missing.getFirst(), what + " parameter present in " + src.describe(),
                    "missing key(s) " + missing + nearby(src, prefix, missing.getFirst().substring(prefix.length())), null);
        }
        TreeSet<String> extra = new TreeSet<>();
        for (String k : src.keys()) {
            if (!k.startsWith(prefix)) continue;
            String n = k.substring(prefix.length());
            if (!want.contains(n) && (src.strictKeys() || PARAMETER_NAMES.contains(n))) extra.add(k);
        }
        if (!extra.isEmpty()) {
            throw new Ss2dArgumentException(extra.first(), "only the " + what + " parameters under \"" + prefix
                    + "\" (wrong config or prefix?)", "unexpected key(s) " + extra, null);
        }
        Map<String, Tensor> dict = new LinkedHashMap<>();
        for (String n : want) dict.put(prefix + n, src.load(prefix + n));
        return dict;
    }

    /** Where the file does hold the parameter, so that a wrong prefix is obvious from the message. */
    private static String nearby(StateDictSource src, String prefix, String name) {
        List<String> prefixes = new ArrayList<>();
        for (String k : src.keys()) {
            if (k.endsWith(name) && (k.length() == name.length() || k.charAt(k.length() - name.length() - 1) == '.')) {
                prefixes.add("\"" + k.substring(0, k.length() - name.length()) + "\"");
            }
        }
        if (prefixes.isEmpty()) {
            return "; no key of " + src.describe() + " ends in " + name;
        }
        return "; " + name + " is found under the prefix(es) " + (prefixes.size() > 8 ? prefixes.subList(0, 8) + "..." : prefixes);
    }

    private static long[] shape(StateDictSource src, String key, int rank) {
        long[] s = src.shapeOf(key);
        if (s == null) {
            throw new Ss2dArgumentException(key, "a tensor in " + src.describe(), "missing key", null);
        }
        if (s.length != rank || java.util.Arrays.stream(s).anyMatch(d -> d < 1 || d > Integer.MAX_VALUE)) {
            throw new Ss2dArgumentException(key, "rank " + rank + " with dimensions in [1, 2^31)",
                    org.ss2d.tensor.Shapes.format(s), null);
        }
        return s;
    }
}
