package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fatbin on the class path holds every kernel the launchers name (checked on the image's
 * symbol strings, so no GPU is needed), and every scan kernel the launcher can pick exists.
 */
class FatbinResourceTest {
    @Test
    void everyKernelNameIsInTheFatbin() throws IOException {
        byte[] image;
        try (InputStream in = CudaDevice.class.getResourceAsStream(CudaDevice.FATBIN)) {
            assertNotNull(in, CudaDevice.FATBIN + " missing from the class path");
            image = in.readAllBytes();
        }
        String text = new String(image, StandardCharsets.ISO_8859_1);
        // Every float32 layer Layers launches (the whole models' too: im2col, patch merge, the LayerNorm with bias and
        // activation, the z gate, the pool, the staged depthwise conv) and the 16-bit conversions.
        List<String> names = new ArrayList<>(List.of("ss2d_cross_scan", "ss2d_cross_scan_planes", "ss2d_cross_merge", "ss2d_dwconv2d",
                "ss2d_dwconv2d_rows", "ss2d_layernorm_cf", "ss2d_layernorm_cf_ex", "ss2d_bias_act_cf", "ss2d_add",
                "ss2d_noop", "ss2d_im2col", "ss2d_patch_merge", "ss2d_mul_silu", "ss2d_avg_pool", "ss2d_half_to_float",
                "ss2d_float_to_half", "ss2d_fused_transpose", "ss2d_fused_scan_n1_k1", "ss2d_fused_scan_n1_k2",
                "ss2d_fused_scan_n1_k4", "ss2d_fused_scan_n1_k8"));
        // Every plan the launcher can make: every dstate class, rows 1, 2, 4 and 4..32 channels per
        // warp, contiguous short rows (n1seg) or not, both load paths.
        for (long dstate : new long[] {1, 2, 4, 8, 16, 32, 64, 65, 256}) {
            for (long dim : new long[] {4, 2, 1, 8, 32, 4096}) {
                for (long seqlen : new long[] {128, 129, 2048}) {
                    for (boolean contiguous : new boolean[] {false, true}) {
                        long[] p = new long[ScanParams.FIELDS];
                        p[ScanParams.BATCH] = dim == 4096 ? 8 : 1_000_000;
                        p[ScanParams.DIM] = dim;
                        p[ScanParams.SEQLEN] = seqlen;
                        p[ScanParams.DSTATE] = dstate;
                        p[ScanParams.GROUPS] = 1;
                        if (contiguous) {
                            p[ScanParams.U_DIM_STRIDE] = p[ScanParams.DELTA_DIM_STRIDE] = p[ScanParams.OUT_DIM_STRIDE] = seqlen;
                        }
                        names.add(ScanLauncher.plan(p, 132).kernel());
                    }
                }
            }
        }
        // The scan backward: its two reductions and every kernel its launcher can pick.
        names.add("ss2d_scan_bwd_rows");
        names.add("ss2d_scan_bwd_slices");
        names.add("ss2d_scan_bwd_parts");
        for (int dstate = 1; dstate <= ScanParams.MAX_DSTATE; dstate++) {
            for (int perGroup : new int[] {1, 2, 4, 8, 16, 32, 96}) {
                for (String variant : new String[] {"v1", "v2", "v3"}) {
                    ScanBackwardLauncher.Plan p = ScanBackwardLauncher.plan(new org.ss2d.ops.ScanShape(2, perGroup, 64,
                            dstate, 1, org.ss2d.ops.BCMode.VARIABLE, org.ss2d.ops.BCMode.VARIABLE), 132, 160 * 1024, variant);
                    names.add(p.kernel());
                    names.add(p.vectorized(false).kernel());
                    if (p.chunked()) {
                        names.add(p.boundsKernel());
                        names.add(p.vectorized(false).boundsKernel());
                    }
                }
            }
        }
        // The 16-bit scan kernels and layers (the dtype option): every dtype, both out types, every layer.
        for (long kind : new long[] {1, 2}) {
            for (String out : new String[] {"h", "f"}) {
                names.add("ss2d_scan_fwd_n1seg_k8_" + (kind == 1 ? "f16" : "bf16") + "_o" + out);
            }
            for (String layer : new String[] {"ss2d_dwconv2d_rows", "ss2d_dwconv2d", "ss2d_cross_scan",
                    "ss2d_cross_scan_gather", "ss2d_cross_scan_planes", "ss2d_layernorm_cf_ex", "ss2d_layernorm_cf_ex_f32", "ss2d_bias_act_res", "ss2d_mul_silu", "ss2d_im2col",
                    "ss2d_patch_merge", "ss2d_avg_pool"}) {
                names.add(layer + Layers.suffix(kind));
            }
        }
        // Every kernel the 16-bit launcher (ScanLauncher.planHalf) can pick: dstate 1 and every pipe width, 16-byte,
        // 8-byte and 16-bit loads (seqlen 128, 196, 129), few and many channels, both dtypes and out types.
        for (long kind : new long[] {1, 2}) {
            for (boolean outHalf : new boolean[] {false, true}) {
                for (int dstate : new int[] {1, 2, 4, 8, 16, 32, 64}) {
                    for (int seqlen : new int[] {128, 196, 129}) {
                        for (int dim : new int[] {32, 4096}) {
                            long[] p = ScanParams.forShape(new org.ss2d.ops.ScanShape(dim == 4096 ? 8 : 2, dim, seqlen, dstate,
                                    1, org.ss2d.ops.BCMode.GROUPED, org.ss2d.ops.BCMode.GROUPED), true);
                            names.add(ScanLauncher.planHalf(p, kind, outHalf, 132).kernel());
                        }
                    }
                }
            }
        }
        // Every depthwise-convolution plan (DwconvPlan): both variants, every dtype, k, width class and alignment.
        for (String variant : new String[] {"v2", "rows"}) {
            for (long kind : new long[] {0, 1, 2}) {
                for (long k : new long[] {1, 3, 5, 7, 9}) {
                    for (long w : new long[] {56, 57}) {
                        for (long x : new long[] {1L << 20, (1L << 20) + 2}) {
                            names.add(DwconvPlan.of(variant, kind, x, 1L << 20, 2, 3, 8, w, k, 100).kernel());
                        }
                    }
                }
            }
        }
        // The whole name, NUL-terminated as in the ELF string tables: "ss2d_im2col" alone must not pass on the strength
        // of "ss2d_im2col_f16".
        for (String n : names) assertTrue(text.contains(n + "\0"), "kernel " + n + " is not in the fatbin");
    }
}
