package org.ss2d.model.vmamba;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ss2d.model.SS2DConfig;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * State-dict plumbing of the VMamba models: the legacy names VMamba's own loader renames, the keys
 * that are not parameters, and the configuration read back from the shapes.
 */
public final class VMambaStateDicts {
    private VMambaStateDicts() {}

    private static final Pattern BLOCK_LEGACY = Pattern.compile("^(layers\\.\\d+\\.blocks\\.\\d+\\.)(ln_1|self_attention)(\\..*)$");
    private static final Pattern OUTNORM = Pattern.compile("^outnorm(\\d+)\\.(weight|bias)$");
    private static final Pattern BLOCK = Pattern.compile("^layers\\.(\\d+)\\.blocks\\.(\\d+)\\.norm\\.weight$");

    /**
     * The dict with VMamba's legacy names renamed as {@code VSSM._load_from_state_dict} does:
     * {@code patch_embed.proj.*} to {@code patch_embed.0.*}, {@code patch_embed.norm.*} to
     * {@code patch_embed.2.*}, a block's {@code ln_1.*} to {@code norm.*} and {@code self_attention.*} to
     * {@code op.*}, top-level {@code norm.*} / {@code head.*} to {@code classifier.norm.*} /
     * {@code classifier.head.*}. A rename onto a name that is also present is an error naming both.
     */
    public static Map<String, Tensor> canonical(Map<String, Tensor> dict) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<String, String> from = new LinkedHashMap<>();
        for (var e : dict.entrySet()) {
            String k = e.getKey(), c = rename(k);
            String prev = from.put(c, k);
            if (prev != null) {
                throw new Ss2dArgumentException(k, "one tensor per parameter", "both " + prev + " and " + k
                        + " name " + c + " (VMamba's loader renames the legacy one)", null);
            }
            out.put(c, e.getValue());
        }
        return out;
    }

    static String rename(String k) {
        if (k.startsWith("patch_embed.proj.")) return "patch_embed.0." + k.substring("patch_embed.proj.".length());
        if (k.startsWith("patch_embed.norm.")) return "patch_embed.2." + k.substring("patch_embed.norm.".length());
        if (k.startsWith("norm.")) return "classifier." + k;
        if (k.startsWith("head.")) return "classifier." + k;
        Matcher m = BLOCK_LEGACY.matcher(k);
        if (m.matches()) return m.group(1) + (m.group(2).equals("ln_1") ? "norm" : "op") + m.group(3);
        return k;
    }

    /** A backbone's {@code outnorm<i>.weight/bias} for a stage the config has. */
    static boolean isOutNorm(String k, VMambaConfig c) {
        Matcher m = OUTNORM.matcher(k);
        return m.matches() && m.group(1).length() == 1 && Integer.parseInt(m.group(1)) < VMambaConfig.STAGES;
    }

    static int outNormStage(String k) {
        Matcher m = OUTNORM.matcher(k);
        if (!m.matches()) throw new IllegalArgumentException(k);
        return Integer.parseInt(m.group(1));
    }

    /** Keys that are not model parameters: other {@code outnorm*} entries and optimizer state. */
    static boolean ignorable(String k) {
        return k.startsWith("outnorm") || k.startsWith("optimizer.") || k.startsWith("optimizer_")
                || k.startsWith("lr_scheduler.");
    }

    /** Checks a configuration's own sanity (sizes >= 1, known variants), before any tensor. */
    public static void checkConfig(VMambaConfig c) {
        if (c.dims().length != VMambaConfig.STAGES || c.depths().length != VMambaConfig.STAGES) {
            throw new Ss2dArgumentException("dims", VMambaConfig.STAGES + " stages of dims and depths",
                    c.dims().length + " dims, " + c.depths().length + " depths", null);
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            positive("dims[" + i + "]", c.dim(i));
            positive("depths[" + i + "]", c.depth(i));
        }
        positive("d_state", c.dState());
        positive("in_chans", c.inChans());
        if (c.dtRank() < 0) throw new Ss2dArgumentException("dt_rank", "0 (auto) or an integer >= 1", "" + c.dtRank(), null);
        if (c.numClasses() < 0) throw new Ss2dArgumentException("num_classes", "an integer >= 0", "" + c.numClasses(), null);
        if (!Double.isFinite(c.ssmRatio()) || c.ssmRatio() <= 0) {
            throw new Ss2dArgumentException("ssm_ratio", "a finite number > 0", "" + c.ssmRatio(), null);
        }
        if (!Double.isFinite(c.mlpRatio()) || c.mlpRatio() < 0) {
            throw new Ss2dArgumentException("mlp_ratio", "a finite number >= 0 (0: no MLP)", "" + c.mlpRatio(), null);
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            if (c.ss2d(i).dInner() < 1) {
                throw new Ss2dArgumentException("ssm_ratio", "int(ssm_ratio * dims[" + i + "]) >= 1",
                        "int(" + c.ssmRatio() + " * " + c.dim(i) + ") = 0", null);
            }
            if (c.hasMlp() && c.mlpHidden(i) < 1) {
                throw new Ss2dArgumentException("mlp_ratio", "int(dims[" + i + "] * mlp_ratio) >= 1 or mlp_ratio 0",
                        "" + c.mlpRatio(), null);
            }
        }
        if (c.dConv() < 1 || c.dConv() % 2 == 0) {
            throw new Ss2dArgumentException("d_conv", "an odd kernel size >= 1", "" + c.dConv(), null);
        }
        boolean v2 = c.patchEmbed() == VMambaConfig.PatchEmbed.V2;
        if (c.patchSize() < 1 || v2 && (c.patchSize() < 2 || c.patchSize() % 2 != 0)) {
            throw new Ss2dArgumentException("patch_size", v2 ? "an even size >= 2 (patch-embed v2 strides patch/2 twice)"
                    : "a size >= 1", "" + c.patchSize(), null);
        }
        if (v2 && c.dim(0) / 2 < 1) {
            throw new Ss2dArgumentException("dims[0]", ">= 2 (patch-embed v2 has dims[0]/2 channels first)", "" + c.dim(0), null);
        }
    }

    private static void positive(String name, int v) {
        if (v < 1) throw new Ss2dArgumentException(name, "an integer >= 1", Integer.toString(v), null);
    }

    /**
     * The configuration a (canonically named) state dict was saved from: widths from each stage's first
     * block norm, depths from the block count, forward type from in_proj's rows against d_inner (twice:
     * v0 with its z branch), d_state from {@code A_logs}, dt_rank from {@code dt_projs_weight} ("auto" when it
     * is {@code ceil(dim/16)} in every stage), MLP ratio from {@code fc1}, stem and downsampling from
     * their keys and kernel sizes, classes from the head (0 without classifier: a backbone). The name is
     * the released configuration it equals, else {@code custom}. The layout flag follows the released
     * models (channels-first for v05_noz); it does not change the numbers.
     *
     * @throws Ss2dArgumentException naming the key that is missing or whose shape contradicts the others
     */
    public static VMambaConfig inferConfig(Map<String, Tensor> dict) {
        int[] depths = new int[VMambaConfig.STAGES];
        for (String k : dict.keySet()) {
            Matcher m = BLOCK.matcher(k);
            if (m.matches() && m.group(1).length() == 1) {
                int i = Integer.parseInt(m.group(1));
                if (i < VMambaConfig.STAGES && m.group(2).length() < 4) depths[i] = Math.max(depths[i], Integer.parseInt(m.group(2)) + 1);
            }
        }
        int[] dims = new int[VMambaConfig.STAGES];
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            dims[i] = (int) need(dict, "layers." + i + ".blocks.0.norm.weight", 1, "infer dims[" + i + "]").dim(0);
        }
        String op = "layers.0.blocks.0.op.";
        Tensor conv = need(dict, op + "conv2d.weight", 4, "infer d_inner and d_conv");
        Tensor inProj = need(dict, op + "in_proj.weight", -1, "infer the forward type");
        long di = conv.dim(0), rows = inProj.dim(0);
        VMambaConfig.ForwardType ft;
        if (rows == di) {
            ft = VMambaConfig.ForwardType.V05_NOZ;
        } else if (rows == 2 * di) {
            ft = VMambaConfig.ForwardType.V0;
        } else {
            throw new Ss2dArgumentException(op + "in_proj.weight", "d_inner=" + di + " (v05_noz) or " + 2 * di
                    + " (v0) rows, as conv2d.weight has d_inner channels", inProj.describe(), null);
        }
        double ratio = ssmRatio(di, dims[0]);
        int dState = (int) need(dict, op + "A_logs", 2, "infer d_state").dim(1);
        int rank = (int) need(dict, op + "dt_projs_weight", 3, "infer dt_rank").dim(2);
        int dtRank = rank == SS2DConfig.autoDtRank(dims[0]) ? 0 : rank;
        if (dtRank == 0) {
            for (int i = 1; i < VMambaConfig.STAGES; i++) {
                Tensor t = dict.get("layers." + i + ".blocks.0.op.dt_projs_weight");
                if (t != null && t.rank() == 3 && t.dim(2) != SS2DConfig.autoDtRank(dims[i])) dtRank = rank;
            }
        }
        boolean convBias = dict.containsKey(op + "conv2d.bias");
        Tensor fc1 = dict.get("layers.0.blocks.0.mlp.fc1.weight");
        double mlpRatio = fc1 == null ? 0.0 : (double) fc1.dim(0) / dims[0];

        Tensor stem0 = need(dict, "patch_embed.0.weight", 4, "infer the stem");
        boolean v2 = dict.containsKey("patch_embed.5.weight");
        int patch = v2 ? 2 * ((int) stem0.dim(2) - 1) : (int) stem0.dim(2);
        VMambaConfig.Downsample ds;
        if (dict.containsKey("layers.0.downsample.reduction.weight")) {
            ds = VMambaConfig.Downsample.V1;
        } else {
            Tensor d = need(dict, "layers.0.downsample.1.weight", 4, "infer the downsampling");
            ds = d.dim(2) == 2 ? VMambaConfig.Downsample.V2 : VMambaConfig.Downsample.V3;
        }
        Tensor head = dict.get("classifier.head.weight");
        int classes = head == null ? 0 : (int) head.dim(0);
        VMambaConfig c = new VMambaConfig("custom", dims, depths, dState, ratio, dtRank, (int) conv.dim(2), convBias,
                mlpRatio, ft, v2 ? VMambaConfig.PatchEmbed.V2 : VMambaConfig.PatchEmbed.V1, ds,
                ft == VMambaConfig.ForwardType.V05_NOZ, classes, (int) stem0.dim(1), patch);
        for (String n : VMambaConfig.RELEASED) {
            VMambaConfig r = VMambaConfig.named(n).withNumClasses(classes);
            if (r.withDepths(depths).equals(c.withDepths(depths)) && java.util.Arrays.equals(r.depths(), depths)) {
                return r;
            }
        }
        return c;
    }

    /** A ratio r with {@code int(r * dModel) == dInner} (di/dm itself can round to one below). */
    static double ssmRatio(long dInner, int dModel) {
        double r = (double) dInner / dModel;
        while ((int) (r * dModel) < dInner) r = Math.nextUp(r);
        return r;
    }

    private static Tensor need(Map<String, Tensor> dict, String key, int rank, String why) {
        Tensor t = dict.get(key);
        if (t == null) throw new Ss2dArgumentException(key, "present (to " + why + ")", "missing", null);
        if (rank > 0 && t.rank() != rank) {
            throw new Ss2dArgumentException(key, "rank " + rank + " (to " + why + ")", t.describe(), null);
        }
        return t;
    }
}
