package org.ss2d.model.vmamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ss2d.ops.GemmShape;
import org.ss2d.tensor.DType;

/**
 * Bytes and FLOPs per step against figures worked out by hand from the configurations (the comments derive each), so a
 * slip in {@link ModelFloors}' formulas shows as a mismatch, not as a copy of its own output.
 *
 * <p>VMamba-T[s1l8] at 224: dims 96/192/384/768, depths 2/2/8/2, d_inner = d (ratio 1), d_state 1, dt_rank
 * ceil(d/16) = 6/12/24/48, MLP hidden 4d; stem v2: 3x3 s2 convs 3 -> 48 (112x112) -> 96 (56x56); downsampling v3
 * to 28, 14, 7; stage maps d*L = 301056, 150528, 75264, 37632 elements (d^2 L = 28901376 at every stage).
 */
class ModelFloorsTest {
    static final VMambaConfig TINY = VMambaConfig.named("vmamba_tiny_s1l8");
    static final VMambaConfig VANILLA = VMambaConfig.named("vanilla_vmamba_tiny");

    static ModelFloors.Step step(ModelFloors f, String kind, int stage) {
        return f.steps().stream().filter(s -> s.kind().equals(kind) && s.stage() == stage).findFirst()
                .orElseThrow(() -> new AssertionError("no step " + kind + " in stage " + stage));
    }

    @Test
    void tinyFloat32OneImage() {
        ModelFloors f = ModelFloors.of(TINY, 1, 224, 224, DType.F32);
        // stem: image 3*224*224*4 = 602112; hidden 48*112*112 = 602112 elements written and read, *2*4 = 4816896;
        // out 96*3136*4 = 1204224; kernels 48*27 + 96*432 = 42768 floats = 171072; biases + LNs 3*(48+96)*4 = 1728
        ModelFloors.Step stem = step(f, "patch_embed", -1);
        assertEquals(602112 + 4816896 + 1204224 + 171072 + 1728, stem.bytes());
        // conv0 2*48*12544*27 = 32514048, conv5 2*96*3136*432 = 260112384
        assertEquals(32514048L + 260112384L, stem.flops());

        // in_proj, stage 0: 96*3136 read and written (2408448 bytes) + 96*96 weights (36864)
        assertEquals(2408448 + 36864, step(f, "in_proj", 0).bytes());
        assertEquals(57802752L, step(f, "in_proj", 0).flops()); // 2 * 96 * 3136 * 96
        // whole kind: stage k moves 2*dL*4 + d^2*4 = 2445312, 1351680, 1191936, 2660352, times 2, 2, 8, 2 blocks
        assertEquals(2L * 2445312 + 2L * 1351680 + 8L * 1191936 + 2L * 2660352, f.bytes().get("in_proj"));
        assertEquals(14L * 57802752, f.flops().get("in_proj")); // 2 d^2 L is the same at every stage, 14 blocks

        // conv_silu stage 0: 2 * 301056 * 4 + 96*9*4 kernel (no bias in v05_noz); 2*9*301056 FLOPs
        assertEquals(2408448 + 3456, step(f, "conv_silu", 0).bytes());
        assertEquals(5419008L, step(f, "conv_silu", 0).flops());
        // cross_scan stage 0: 301056 in, 4 * 301056 out, float32
        assertEquals(5 * 301056 * 4, step(f, "cross_scan", 0).bytes());
        // x_dt_proj stage 0 (R = 6 + 2 = 8 rows): 4 * (301056 + 8*3136 + 6*3136 + 301056) * 4 + 4*(8*96 + 96*6)*4
        assertEquals(4L * (301056 + 25088 + 18816 + 301056) * 4 + 4L * (768 + 576) * 4, step(f, "x_dt_proj", 0).bytes());
        assertEquals(4L * (2L * 8 * 3136 * 96 + 2L * 96 * 3136 * 6), step(f, "x_dt_proj", 0).flops());
        // scan stage 0: 4 routes * (u, delta 2*301056*4 + B, C 2*1*3136*4 + y 301056*4) + A, D, bias 4*96*3*4
        assertEquals(4L * (2408448 + 25088 + 1204224) + 4608, step(f, "scan", 0).bytes());
        assertEquals(0, step(f, "scan", 0).flops());
        // cross_merge: 4 planes read, 1 written, float32; norm_out: float32 y in, float32 yn out, 2*96 params
        assertEquals(5 * 301056 * 4, step(f, "cross_merge", 0).bytes());
        assertEquals(2 * 301056 * 4 + 2 * 96 * 4, step(f, "norm_out", 0).bytes());
        // residual: x and s read, out written, twice a block (after the SS2D and after the MLP):
        // 3*dL*4 = 3612672, 1806336, 903168, 451584 a time, 2*(2, 2, 8, 2) times
        assertEquals(4L * 3612672 + 4L * 1806336 + 16L * 903168 + 4L * 451584, f.bytes().get("residual"));
        assertEquals(2 * 14, f.steps().stream().filter(s -> s.kind().equals("residual")).mapToInt(ModelFloors.Step::count).sum());
        // mlp stage 2: x in and out (2*75264), hidden written and read (2*1536*196 = 602112) floats; fc1 + fc2
        // 2*1536*384 floats; biases 1536 + 384
        assertEquals((150528 + 602112) * 4 + 2 * 1536 * 384 * 4 + (1536 + 384) * 4, step(f, "mlp", 2).bytes());
        assertEquals(14L * 16 * 28901376, f.flops().get("mlp")); // 2 GEMMs of 2 * 4d * d * L a block
        // downsample 0 (v3): 301056 in, 192*784 out, kernel 192*96*9, bias + LN 3*192; FLOPs 2*192*784*864
        assertEquals(1204224 + 602112 + 663552 + 2304, step(f, "downsample", 0).bytes());
        assertEquals(260112384L, step(f, "downsample", 0).flops());
        // classifier: 768*49 in, 1000 logits out, head 1000*768 + 1000, LN 2*768; 2*1000*768 FLOPs
        assertEquals((37632 + 1000) * 4 + (768000 + 1000 + 1536) * 4, step(f, "classifier", -1).bytes());
        assertEquals(1536000L, step(f, "classifier", -1).flops());
        assertEquals(ModelFloors.KINDS, List.copyOf(f.bytes().keySet()));
    }

    @Test
    void batchScalesMapsNotWeights() {
        ModelFloors f = ModelFloors.of(TINY, 128, 224, 224, DType.F32);
        // in_proj stage 0: 128 * 2408448 map bytes + the 36864 weight bytes once
        ModelFloors.Step s = step(f, "in_proj", 0);
        assertEquals(128L * 2408448 + 36864, s.bytes());
        assertEquals(128L * 57802752, s.flops());
        // at 3000 GB/s and 50 TFLOP/s: bytes 308318208 / 3e12 = 0.1028 ms, FLOPs 7398752256 / 5e13 = 0.1480 ms
        assertEquals(0.14797504512, s.floorMs(3000, 50), 1e-12);
        // cross_scan stays on bytes: 128 * 6021120 / 3e12
        assertEquals(128 * 6021120 / 3e9, step(f, "cross_scan", 0).floorMs(3000, 50), 1e-12);
        Map<String, String> bound = f.bound(3000, 50);
        assertEquals("flops", bound.get("mlp"));
        assertEquals("bytes", bound.get("scan"));
        assertEquals("bytes", bound.get("cross_merge"));
        // a kind's floor is its instances' floors summed
        double inProj = 0;
        for (ModelFloors.Step x : f.steps()) if (x.kind().equals("in_proj")) inProj += x.count() * x.floorMs(3000, 50);
        assertEquals(inProj, f.floorMs(3000, 50).get("in_proj"), 1e-15);
        // every GEMM with its count: fc1 of stage 2 (1536 x 196 x 384) runs 8 times a call
        assertEquals(8, f.gemms().get(new GemmShape(1536, 196, 384, 128)));
        // x_proj of stage 0: 4 routes x 2 blocks
        assertEquals(8, f.gemms().get(new GemmShape(8, 3136, 96, 128)));
    }

    /**
     * vanilla_vmamba_tiny: v0 (z gate), d_inner = 2d = 192 at stage 0, d_state 16, dt_rank 6 (R = 38), conv bias, no
     * MLP, stem v1 (4x4 stride 4), PatchMerging2D; depths 2/2/9/2.
     */
    @Test
    void vanillaFloat32OneImage() {
        ModelFloors f = ModelFloors.of(VANILLA, 1, 224, 224, DType.F32);
        // stem v1: image 602112 bytes, 96*3136*4 out, kernel 96*48*4, bias + LN 3*96*4; 2*96*3136*48 FLOPs
        assertEquals(602112 + 1204224 + 18432 + 1152, step(f, "patch_embed", -1).bytes());
        assertEquals(28901376L, step(f, "patch_embed", -1).flops());
        // in_proj: x read once, x and z written (2*192*3136*4), both halves of the weight (2*192*96*4)
        assertEquals(1204224 + 4816896 + 147456, step(f, "in_proj", 0).bytes());
        assertEquals(2L * 2 * 192 * 3136 * 96, step(f, "in_proj", 0).flops());
        // conv_silu with bias: 2 * 602112 * 4 + 192*9*4 + 192*4
        assertEquals(4816896 + 6912 + 768, step(f, "conv_silu", 0).bytes());
        // scan: 4 * (u, delta 2*602112*4 + B, C 2*16*3136*4 + y 602112*4) + A (16), D, bias: 4*192*18*4
        assertEquals(4L * (4816896 + 401408 + 2408448) + 55296, step(f, "scan", 0).bytes());
        // norm_out reads y (float32) and z, writes yn: 3 * 602112 * 4 + 2*192*4
        assertEquals(7225344 + 1536, step(f, "norm_out", 0).bytes());
        // no MLP: one residual a block, no norm2 or mlp
        assertEquals(2L * 3612672 + 2L * 1806336 + 9L * 903168 + 2L * 451584, f.bytes().get("residual"));
        assertFalse(f.bytes().containsKey("mlp"));
        assertFalse(f.bytes().containsKey("norm2"));
        // PatchMerging2D 0: 96*3136 in; gathered 4*96*784 written and read; 192*784 out; reduction 192*384; LN 2*384
        assertEquals(1204224 + 2408448 + 602112 + 294912 + 3072, step(f, "downsample", 0).bytes());
        assertEquals(2L * 192 * 784 * 384, step(f, "downsample", 0).flops());
    }

    /** bfloat16: maps and GEMM weights in 2 bytes, the scan's y and the merge in float32, residuals folded. */
    @Test
    void tinyBfloat16OneImage() {
        ModelFloors f = ModelFloors.of(TINY, 1, 224, 224, DType.BF16);
        // in_proj stage 0: 2 * 301056 * 2 + 96*96*2
        assertEquals(1204224 + 18432, step(f, "in_proj", 0).bytes());
        // out_proj adds the residual: yn, x read, out written (3 * 301056 * 2) + 96*96*2
        assertEquals(1806336 + 18432, step(f, "out_proj", 0).bytes());
        // scan: 4 * (u, delta 2*301056*2 + B, C 2*3136*2 + y 301056*4 in float32) + 4608 of float32 parameters
        assertEquals(4L * (1204224 + 12544 + 1204224) + 4608, step(f, "scan", 0).bytes());
        // cross_merge unchanged (float32 in and out); norm_out reads float32, writes 16 bits
        assertEquals(5 * 301056 * 4, step(f, "cross_merge", 0).bytes());
        assertEquals(301056 * 4 + 301056 * 2 + 2 * 96 * 4, step(f, "norm_out", 0).bytes());
        // mlp stage 2: (x in, out, hidden twice, x1 for the residual) * 2 bytes; fc1 + fc2 in 16 bits; biases float32
        assertEquals((2 * 75264 + 2 * 301056 + 75264) * 2 + 2 * 1536 * 384 * 2 + (1536 + 384) * 4,
                step(f, "mlp", 2).bytes());
        assertFalse(f.bytes().containsKey("residual"));
        // FLOPs do not depend on the dtype
        assertEquals(ModelFloors.of(TINY, 1, 224, 224, DType.F32).flops().get("mlp"), f.flops().get("mlp"));
    }

    @Test
    void rejectsWhatItCannotCount() {
        assertThrows(IllegalArgumentException.class, () -> ModelFloors.of(TINY, 0, 224, 224, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> ModelFloors.of(VANILLA, 2, 2, 2, DType.F32)); // a 4x4 stem on 2x2
    }
}
