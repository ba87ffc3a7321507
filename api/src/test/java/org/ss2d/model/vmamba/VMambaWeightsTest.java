package org.ss2d.model.vmamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** Configurations against VMamba's factories, state-dict names, legacy renames, inference and every rejection. */
class VMambaWeightsTest {
    final TensorScope s = TensorScope.root("vmamba-weights");

    @AfterEach
    void close() {
        s.release();
    }

    /** Small widths, depth 1: the names and rules of each released family at a fraction of the bytes. */
    static VMambaConfig small(String name) {
        VMambaConfig c = VMambaConfig.named(name);
        return c.withDims(16, 32, 64, 128).withDepths(1, 1, 2, 1).withNumClasses(10);
    }

    @Test
    void releasedConfigsMatchVMambasFactories() {
        VMambaConfig t = VMambaConfig.named("vmamba_tiny_s1l8");
        assertArrayEquals(new int[] {96, 192, 384, 768}, t.dims());
        assertArrayEquals(new int[] {2, 2, 8, 2}, t.depths());
        assertEquals(1, t.dState());
        assertEquals(1.0, t.ssmRatio());
        assertEquals(4.0, t.mlpRatio());
        assertEquals(VMambaConfig.ForwardType.V05_NOZ, t.forwardType());
        assertEquals(VMambaConfig.PatchEmbed.V2, t.patchEmbed());
        assertEquals(VMambaConfig.Downsample.V3, t.downsample());
        assertFalse(t.convBias());
        assertTrue(t.channelsFirst());
        assertEquals(1000, t.numClasses());
        assertArrayEquals(new int[] {2, 2, 20, 2}, VMambaConfig.named("vmamba_small_s1l20").depths());
        assertArrayEquals(new int[] {128, 256, 512, 1024}, VMambaConfig.named("vmamba_base_s1l20").dims());
        assertEquals(2.0, VMambaConfig.named("vmamba_tiny_s2l5").ssmRatio());
        assertArrayEquals(new int[] {2, 2, 5, 2}, VMambaConfig.named("vmamba_tiny_s2l5").depths());
        assertArrayEquals(new int[] {2, 2, 15, 2}, VMambaConfig.named("vmamba_base_s2l15").depths());
        VMambaConfig v = VMambaConfig.named("vanilla_vmamba_small");
        assertArrayEquals(new int[] {2, 2, 27, 2}, v.depths());
        assertEquals(16, v.dState());
        assertEquals(2.0, v.ssmRatio());
        assertEquals(0.0, v.mlpRatio());
        assertTrue(v.convBias());
        assertFalse(v.channelsFirst());
        assertEquals(VMambaConfig.ForwardType.V0, v.forwardType());
        assertEquals(VMambaConfig.PatchEmbed.V1, v.patchEmbed());
        assertEquals(VMambaConfig.Downsample.V1, v.downsample());
        assertArrayEquals(new int[] {128, 256, 512, 1024}, VMambaConfig.named("vanilla_vmamba_base").dims());
        assertEquals(9, VMambaConfig.RELEASED.size());
        for (String n : VMambaConfig.RELEASED) assertEquals(n, VMambaConfig.named(n.toUpperCase(java.util.Locale.ROOT)).name());
        var e = assertThrows(Ss2dArgumentException.class, () -> VMambaConfig.named("vmamba_huge"));
        assertEquals("model", e.argument());
    }

    @Test
    void gridsFollowTorchConvolutionArithmetic() {
        // v2 stem: two 3x3 stride-2 pad-1 convolutions (ceil(n/2) twice); v3 downsampling: ceil(n/2)
        assertArrayEquals(new int[][] {{56, 56}, {28, 28}, {14, 14}, {7, 7}}, VMambaConfig.named("vmamba_tiny_s1l8").grids(224, 224));
        assertArrayEquals(new int[][] {{16, 15}, {8, 8}, {4, 4}, {2, 2}}, VMambaConfig.named("vmamba_tiny_s1l8").grids(64, 60));
        // v1 stem: 4x4 stride 4 (floor); PatchMerging2D pads odd sizes (ceil)
        assertArrayEquals(new int[][] {{15, 16}, {8, 8}, {4, 4}, {2, 2}}, VMambaConfig.named("vanilla_vmamba_tiny").grids(63, 64));
        assertEquals(0, VMambaConfig.named("vanilla_vmamba_tiny").grids(3, 64)[0][0]);
    }

    @Test
    void everyReleasedFamilyRoundTripsThroughItsStateDictWithTheConfigInferred() {
        for (String n : VMambaConfig.RELEASED) {
            VMambaConfig c = small(n);
            VMambaWeights w = VMambaRandomWeights.of(s, c, 7);
            assertEquals(VMambaWeights.expectedShapes(c).keySet(), w.params().keySet(), n);
            VMambaWeights back = VMambaWeights.fromStateDict(w.params());
            assertEquals(c.withDepths(c.depths()), back.config().withDepths(c.depths()), n); // name is "custom" at these widths
            assertSame(w.get("layers.2.blocks.1.op.A_logs"), back.get("layers.2.blocks.1.op.A_logs"), n);
        }
        // the released widths infer the released name (zero tensors of the real shapes, 120 MB)
        VMambaConfig t = VMambaConfig.named("vmamba_tiny_s1l8");
        Map<String, Tensor> fake = new LinkedHashMap<>();
        for (var e : VMambaWeights.expectedShapes(t).entrySet()) fake.put(e.getKey(), s.allocate(DType.F32, e.getValue()));
        assertEquals(t, VMambaWeights.fromStateDict(fake).config());
        for (Tensor x : fake.values()) x.close();
    }

    @Test
    void legacyNamesAreRenamedAsVMambasLoaderDoes() {
        VMambaConfig c = small("vanilla_vmamba_tiny");
        VMambaWeights w = VMambaRandomWeights.of(s, c, 3);
        Map<String, Tensor> legacy = new LinkedHashMap<>();
        for (var e : w.params().entrySet()) {
            String k = e.getKey()
                    .replace("patch_embed.0.", "patch_embed.proj.")
                    .replace("patch_embed.2.", "patch_embed.norm.")
                    .replace(".blocks.0.norm.", ".blocks.0.ln_1.")
                    .replace(".blocks.0.op.", ".blocks.0.self_attention.")
                    .replace("classifier.norm.", "norm.")
                    .replace("classifier.head.", "head.");
            legacy.put(k, e.getValue());
        }
        assertTrue(legacy.containsKey("layers.1.blocks.0.self_attention.A_logs"));
        VMambaWeights back = VMambaWeights.fromStateDict(c, legacy);
        assertEquals(w.params(), back.params());
        legacy.put("patch_embed.0.weight", w.get("patch_embed.0.weight"));
        var e = assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, legacy));
        assertTrue(e.getMessage().contains("patch_embed.proj.weight"), e.getMessage());
    }

    @Test
    void missingLeftOverAndMisShapedKeysAreNamed() {
        VMambaConfig c = small("vmamba_tiny_s1l8");
        VMambaWeights w = VMambaRandomWeights.of(s, c, 5);

        Map<String, Tensor> d = new LinkedHashMap<>(w.params());
        d.remove("layers.1.blocks.0.op.Ds");
        var e = assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, d));
        assertEquals("layers.1.blocks.0.op.Ds", e.argument());

        Map<String, Tensor> left = new LinkedHashMap<>(w.params());
        left.put("layers.0.blocks.0.op.x_proj_bias", s.allocate(DType.F32, 4, 5));
        e = assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, left));
        assertEquals("layers.0.blocks.0.op.x_proj_bias", e.argument());

        // outnorm* and optimizer entries are not left-overs; the four stage outnorms are kept
        Map<String, Tensor> ok = new LinkedHashMap<>(VMambaRandomWeights.withOutNorms(s, w, 9).params());
        ok.put("outnorm7.weight", s.allocate(DType.F32, 3));
        ok.put("optimizer.state.0", s.allocate(DType.F32, 3));
        VMambaWeights withNorms = VMambaWeights.fromStateDict(c, ok);
        assertSame(ok.get("outnorm2.bias"), withNorms.outNorm(2)[1]);

        Map<String, Tensor> bad = new LinkedHashMap<>(w.params());
        bad.put("layers.2.blocks.1.mlp.fc1.weight", s.allocate(DType.F32, 256, 63));
        e = assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, bad));
        assertEquals("layers.2.blocks.1.mlp.fc1.weight", e.argument());
        assertTrue(e.getMessage().contains("(256, 64)"), e.getMessage());

        Map<String, Tensor> badNorm = new LinkedHashMap<>(w.params());
        badNorm.put("outnorm1.weight", s.allocate(DType.F32, 31));
        e = assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, badNorm));
        assertEquals("outnorm1.weight", e.argument());
    }

    @Test
    void linear2dWeightsInConvolutionFormAreAccepted() {
        VMambaConfig c = small("vmamba_tiny_s2l5");
        VMambaWeights w = VMambaRandomWeights.of(s, c, 11);
        Map<String, Tensor> d = new LinkedHashMap<>(w.params());
        Tensor fc1 = w.get("layers.0.blocks.0.mlp.fc1.weight");
        d.put("layers.0.blocks.0.mlp.fc1.weight", s.wrap("fc1", fc1.segment(), DType.F32, fc1.dim(0), fc1.dim(1), 1, 1));
        VMambaWeights back = VMambaWeights.fromStateDict(c, d);
        assertEquals(4, back.block(0, 0).fc1Weight().rank());
        // but not for a convolution's own weight
        Tensor conv = w.get("layers.0.downsample.1.weight");
        d.put("layers.0.downsample.1.weight", s.wrap("ds", conv.segment(), DType.F32, conv.dim(0), conv.dim(1) * 9));
        assertThrows(Ss2dArgumentException.class, () -> VMambaWeights.fromStateDict(c, d));
    }

    @Test
    void badConfigsAreRejectedBeforeAnyTensor() {
        VMambaConfig c = small("vmamba_tiny_s1l8");
        var e = assertThrows(Ss2dArgumentException.class, () -> VMambaStateDicts.checkConfig(c.withDepths(1, 0, 1, 1)));
        assertEquals("depths[1]", e.argument());
        e = assertThrows(Ss2dArgumentException.class, () -> VMambaStateDicts.checkConfig(c.withDims(16, 32, 64)));
        assertEquals("dims", e.argument());
    }
}
