package org.ss2d.model.vmamba;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ss2d.model.SS2DConfig;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A VMamba classification network ({@code VSSM} of VMamba's {@code classification/models/vmamba.py}):
 * a patch embedding, four stages of VSS blocks with a downsampling layer between stages, then
 * LayerNorm, global average pool and a Linear head.
 *
 * <p>{@link #channelsFirst} only records which layout VMamba keeps its activations in (LayerNorm2d and
 * 1x1 convolutions, or LayerNorm and Linear on channels-last tensors): both compute the same numbers from
 * the same state dict, and the engine always computes in {@code (batch, channels, H, W)}.
 *
 * @param name         the factory name ({@code vmamba_tiny_s1l8}, ...) or {@code custom}
 * @param dims         channels of the four stages
 * @param depths       VSS blocks per stage
 * @param dState       SSM state size (1 for the v2 models, 16 for the vanilla ones)
 * @param ssmRatio     {@code d_inner = int(ssmRatio * dim)} in every block
 * @param dtRank       rank of the dt projection; 0 means VMamba's "auto", {@code ceil(dim / 16)} per stage
 * @param dConv        depthwise convolution size of the SS2D blocks
 * @param convBias     whether that convolution has a bias
 * @param mlpRatio     MLP hidden size over dim; 0 means blocks without the MLP branch
 * @param forwardType  the SS2D variant
 * @param patchEmbed   the stem
 * @param downsample   the layer between stages
 * @param channelsFirst VMamba's {@code norm_layer="ln2d"} (true) or {@code "ln"} (false); layout only
 * @param numClasses   classes of the head; 0 for a backbone without classifier (features only)
 * @param inChans      input channels (3)
 * @param patchSize    total stride of the stem (4)
 */
public record VMambaConfig(String name, int[] dims, int[] depths, int dState, double ssmRatio, int dtRank, int dConv,
                           boolean convBias, double mlpRatio, ForwardType forwardType, PatchEmbed patchEmbed,
                           Downsample downsample, boolean channelsFirst, int numClasses, int inChans, int patchSize) {

    /** Stages of every VMamba classification network. */
    public static final int STAGES = 4;

    /** The SS2D variant of the blocks. */
    public enum ForwardType {
        /** SS2D without the z branch, channels-first (the v2 models). */
        V05_NOZ,
        /** The first SS2D: in_proj gives x and z, {@code out_proj(LayerNorm(y) * SiLU(z))}, conv bias. */
        V0;

        /** VMamba's spelling: {@code v05_noz}, {@code v0}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The stem. */
    public enum PatchEmbed {
        /** One {@code patch x patch} convolution with stride patch, then LayerNorm. */
        V1,
        /** Two 3x3 stride-2 convolutions (dim/2 then dim channels) with LayerNorm and GELU between, LayerNorm after. */
        V2
    }

    /** The layer between two stages. */
    public enum Downsample {
        /** PatchMerging2D: 2x2 neighbours concatenated (4 dim), LayerNorm, Linear to the next dim without bias. */
        V1,
        /** 2x2 stride-2 convolution, then LayerNorm. */
        V2,
        /** 3x3 stride-2 convolution with padding 1, then LayerNorm. */
        V3
    }

    /** The nine released configurations, by their factory names in VMamba's {@code vmamba.py}. */
    public static final List<String> RELEASED = List.of("vmamba_tiny_s1l8", "vmamba_small_s1l20", "vmamba_base_s1l20",
            "vmamba_tiny_s2l5", "vmamba_small_s2l15", "vmamba_base_s2l15", "vanilla_vmamba_tiny",
            "vanilla_vmamba_small", "vanilla_vmamba_base");

    public VMambaConfig {
        dims = dims.clone();
        depths = depths.clone();
    }

    /**
     * A released configuration by name (case-insensitive), as VMamba's factory functions and its
     * {@code configs/vssm/*.yaml} define it, with 1000 classes.
     *
     * @throws Ss2dArgumentException naming {@code model} for an unknown name, listing the valid ones
     */
    public static VMambaConfig named(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "vmamba_tiny_s1l8" -> v2(n, 96, new int[] {2, 2, 8, 2}, 1.0);
            case "vmamba_small_s1l20" -> v2(n, 96, new int[] {2, 2, 20, 2}, 1.0);
            case "vmamba_base_s1l20" -> v2(n, 128, new int[] {2, 2, 20, 2}, 1.0);
            case "vmamba_tiny_s2l5" -> v2(n, 96, new int[] {2, 2, 5, 2}, 2.0);
            case "vmamba_small_s2l15" -> v2(n, 96, new int[] {2, 2, 15, 2}, 2.0);
            case "vmamba_base_s2l15" -> v2(n, 128, new int[] {2, 2, 15, 2}, 2.0);
            case "vanilla_vmamba_tiny" -> v0(n, 96, new int[] {2, 2, 9, 2});
            case "vanilla_vmamba_small" -> v0(n, 96, new int[] {2, 2, 27, 2});
            case "vanilla_vmamba_base" -> v0(n, 128, new int[] {2, 2, 27, 2});
            default -> throw new Ss2dArgumentException("model", "one of " + RELEASED, "\"" + name + "\"", null);
        };
    }

    /** The v2 models: v05_noz, d_state 1, no conv bias, MLP ratio 4, LayerNorm2d, patch-embed v2, downsample v3. */
    private static VMambaConfig v2(String name, int dim, int[] depths, double ssmRatio) {
        return new VMambaConfig(name, widths(dim), depths, 1, ssmRatio, 0, 3, false, 4.0, ForwardType.V05_NOZ,
                PatchEmbed.V2, Downsample.V3, true, 1000, 3, 4);
    }

    /** The vanilla models: v0, d_state 16, ratio 2, conv bias, no MLP, LayerNorm, patch-embed v1, PatchMerging2D. */
    private static VMambaConfig v0(String name, int dim, int[] depths) {
        return new VMambaConfig(name, widths(dim), depths, 16, 2.0, 0, 3, true, 0.0, ForwardType.V0, PatchEmbed.V1,
                Downsample.V1, false, 1000, 3, 4);
    }

    /** {@code [d, 2d, 4d, 8d]}, VMamba's widths for an integer {@code dims}. */
    public static int[] widths(int dim) {
        return new int[] {dim, 2 * dim, 4 * dim, 8 * dim};
    }

    @Override
    public int[] dims() {
        return dims.clone();
    }

    @Override
    public int[] depths() {
        return depths.clone();
    }

    public int dim(int stage) {
        return dims[stage];
    }

    public int depth(int stage) {
        return depths[stage];
    }

    /** The SS2D configuration of the blocks of {@code stage}. */
    public SS2DConfig ss2d(int stage) {
        int d = dims[stage];
        return new SS2DConfig(d, dState, ssmRatio, dtRank == 0 ? SS2DConfig.autoDtRank(d) : dtRank, dConv, convBias);
    }

    /** Whether the blocks have the MLP branch ({@code norm2}, {@code mlp.fc1}, {@code mlp.fc2}). */
    public boolean hasMlp() {
        return mlpRatio > 0;
    }

    /** {@code int(dim * mlp_ratio)} of the blocks of {@code stage}. */
    public int mlpHidden(int stage) {
        return (int) (dims[stage] * mlpRatio);
    }

    /** Whether the model ends in a classifier (else it is a backbone: features only). */
    public boolean hasClassifier() {
        return numClasses > 0;
    }

    /** Channels of the stem's first convolution: dim/2 for v2, dim for v1. */
    public int stemHidden() {
        return patchEmbed == PatchEmbed.V2 ? dims[0] / 2 : dims[0];
    }

    /**
     * Spatial sizes {@code [stage][0 = H, 1 = W]} of the four stage maps for an {@code h x w} input, as
     * torch's convolution arithmetic gives them (floor division; PatchMerging2D pads odd sizes).
     * Sizes below 1 mean the input is too small.
     */
    public int[][] grids(long h, long w) {
        int[][] g = new int[STAGES][];
        long gh, gw;
        if (patchEmbed == PatchEmbed.V1) {
            gh = convOut(h, patchSize, patchSize, 0);
            gw = convOut(w, patchSize, patchSize, 0);
        } else {
            int s = patchSize / 2, k = s + 1;
            gh = convOut(convOut(h, k, s, 1), k, s, 1);
            gw = convOut(convOut(w, k, s, 1), k, s, 1);
        }
        for (int i = 0; i < STAGES; i++) {
            g[i] = new int[] {(int) Math.min(gh, Integer.MAX_VALUE), (int) Math.min(gw, Integer.MAX_VALUE)};
            gh = downsampled(gh);
            gw = downsampled(gw);
        }
        return g;
    }

    private long downsampled(long n) {
        return switch (downsample) {
            case V1 -> (n + 1) / 2;
            case V2 -> convOut(n, 2, 2, 0);
            case V3 -> convOut(n, 3, 2, 1);
        };
    }

    /** torch's output size of a convolution; below 1 when the input is too small. */
    private static long convOut(long n, int k, int s, int pad) {
        long span = n + 2L * pad - k;
        return span < 0 ? 0 : span / s + 1;
    }

    /** The same network with another head size (0: a backbone). */
    public VMambaConfig withNumClasses(int classes) {
        return new VMambaConfig(name, dims, depths, dState, ssmRatio, dtRank, dConv, convBias, mlpRatio, forwardType,
                patchEmbed, downsample, channelsFirst, classes, inChans, patchSize);
    }

    /** The same network with other stage depths (named {@code custom}); for tests and experiments. */
    public VMambaConfig withDepths(int... stageDepths) {
        return new VMambaConfig("custom", dims, stageDepths, dState, ssmRatio, dtRank, dConv, convBias, mlpRatio,
                forwardType, patchEmbed, downsample, channelsFirst, numClasses, inChans, patchSize);
    }

    /** The same network with other widths (named {@code custom}). */
    public VMambaConfig withDims(int... stageDims) {
        return new VMambaConfig("custom", stageDims, depths, dState, ssmRatio, dtRank, dConv, convBias, mlpRatio,
                forwardType, patchEmbed, downsample, channelsFirst, numClasses, inChans, patchSize);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VMambaConfig c && name.equals(c.name) && Arrays.equals(dims, c.dims)
                && Arrays.equals(depths, c.depths) && dState == c.dState
                && Double.compare(ssmRatio, c.ssmRatio) == 0 && dtRank == c.dtRank && dConv == c.dConv
                && convBias == c.convBias && Double.compare(mlpRatio, c.mlpRatio) == 0
                && forwardType == c.forwardType && patchEmbed == c.patchEmbed && downsample == c.downsample
                && channelsFirst == c.channelsFirst && numClasses == c.numClasses && inChans == c.inChans
                && patchSize == c.patchSize;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + Arrays.hashCode(dims)) + Arrays.hashCode(depths);
    }

    @Override
    public String toString() {
        return name + "{dims=" + Arrays.toString(dims) + ", depths=" + Arrays.toString(depths) + ", d_state=" + dState
                + ", ssm_ratio=" + ssmRatio + ", dt_rank=" + (dtRank == 0 ? "auto" : dtRank) + ", d_conv=" + dConv
                + ", conv_bias=" + convBias + ", mlp_ratio=" + mlpRatio + ", forward_type=" + forwardType.label()
                + ", patchembed=" + patchEmbed.name().toLowerCase(Locale.ROOT) + ", downsample="
                + downsample.name().toLowerCase(Locale.ROOT) + ", norm=" + (channelsFirst ? "ln2d" : "ln")
                + ", num_classes=" + numClasses + "}";
    }
}
