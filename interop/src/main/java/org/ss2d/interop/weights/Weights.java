package org.ss2d.interop.weights;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.ss2d.model.ConfigInference;
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

    /** The SS2D config the shapes under {@code prefix} imply (see {@link ConfigInference#ss2d}). */
    public static SS2DConfig inferSs2dConfig(StateDictSource src, String prefix) {
        return ConfigInference.ss2d(src::shapeOf, normalize(prefix));
    }

    /** A VSS block's mlp_ratio from {@code mlp.fc1.weight} under {@code prefix} (see {@link ConfigInference#mlpRatio}). */
    public static double inferMlpRatio(StateDictSource src, String prefix, int dModel) {
        return ConfigInference.mlpRatio(src::shapeOf, normalize(prefix), dModel);
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
}
