package org.ss2d.cuda;

import org.ss2d.model.SS2DConfig;

/**
 * Whether the SS2D block runs its middle fused ({@code fused_scan.cuh}: CrossScan, dt_proj, the d_state-1 scan and
 * CrossMerge in one kernel after one stacked x_proj GEMM), and how that kernel is launched. Plain Java, so the rule is
 * unit-tested without a GPU. Opt-in: {@code -Dss2d.cuda.fusedScan=true} turns it on (read on every block call, so
 * one run can compare both). It is off by default because on the H100 the fused kernel was slower than the unfused
 * steps it replaces (backend-cuda/README.md, "The SS2D block's fused middle").
 */
final class FusedScan {
    static final String PROPERTY = "ss2d.cuda.fusedScan";
    /** Warps (planes) per block: 8 fills an SM with one block at 56x56 and lets 8 channels of an image share L1. */
    static final int MAX_WARPS = 8;
    /**
     * The kernel keeps two planes (x and the merged y) per warp in shared memory; above this a block would hold too
     * few warps per SM (under 4 on a 227 KiB SM) to hide the scan's latency, and the unfused path is the better one.
     */
    static final long MAX_WARP_BYTES = 48 * 1024;

    private static final Plan OFF = Plan.unfused("off (opt in with -D" + PROPERTY + "=true)");

    private FusedScan() {}

    /**
     * What {@link #plan} decided: the kernel, warps per block and dynamic shared bytes, or why not ({@code reason}).
     * Made at every block call, so nothing is formatted unless asked ({@link #why}).
     */
    record Plan(boolean fused, String reason, String kernel, int warps, int sharedBytes) {
        static Plan unfused(String why) {
            return new Plan(false, why, null, 0, 0);
        }

        String why() {
            return fused ? "fused: " + kernel + ", " + warps + " warps per block, " + sharedBytes
                    + " bytes of shared memory" : reason;
        }
    }

    private static final String[] KERNELS = {"ss2d_fused_scan_n1_k1", "ss2d_fused_scan_n1_k2", null,
        "ss2d_fused_scan_n1_k4", null, null, null, "ss2d_fused_scan_n1_k8"};

    /** The property's value now: off unless {@code -Dss2d.cuda.fusedScan=true}. */
    static boolean enabled() {
        return "true".equalsIgnoreCase(System.getProperty(PROPERTY, "false").trim());
    }

    /**
     * Sub-chunks of 32 steps per chunk of the kernel's walk ({@code ss2d_fused_scan_n1_k<K>}, K = 1, 2, 4, 8): the
     * loads of a chunk are in flight together and its K warp scans independent, so the largest K that a plane fills:
     * one chunk for planes up to 256 pixels, 8 sub-chunks per chunk above.
     */
    static int items(long len) {
        return len <= 32 ? 1 : len <= 64 ? 2 : len <= 128 ? 4 : 8;
    }

    /** Floats of shared memory per warp (fused_scan.cuh, {@code warp_floats}): two H x (W + 1) planes and 4 x R weights. */
    static long warpFloats(long h, long w, long dtRank) {
        return 2 * h * (w + 1) + 4 * dtRank;
    }

    /**
     * Whether a float32 block of this configuration and plane runs fused on any device of sm_80 and up (their opt-in
     * shared memory per block is at least 99 KiB, above {@link #MAX_WARP_BYTES}): what the model's scratch plan
     * ({@link ModelPlan}) sizes for, without a device. {@link #plan} decides at the call.
     */
    static boolean fits(SS2DConfig c, boolean zGate, int h, int w) {
        return whyNot(c.dState(), zGate, false, h, w, c.dtRank()) == null;
    }

    /** Why the kernel cannot run such a block, whatever the device; null when it can. */
    private static String whyNot(int dState, boolean zGate, boolean half, int h, int w, int dtRank) {
        if (zGate) return "z-gated v0 block";                 // constant messages first: the v0 and half models'
        if (half) return "16-bit activations (their scan path is not fused)"; // blocks ask at every call
        if (dState != 1) return "d_state " + dState + " (the fused kernel carries one state)";
        long warpBytes = 4 * warpFloats(h, w, dtRank);
        if (warpBytes > MAX_WARP_BYTES) {
            return h + "x" + w + " plane: " + warpBytes + " bytes of shared memory per warp, above " + MAX_WARP_BYTES;
        }
        return null;
    }

    /**
     * @param enabled     {@link #enabled()}
     * @param dState      the block's d_state (the kernel carries one state)
     * @param zGate       a v0 block (z-gated: its own path)
     * @param half        16-bit activations (their path stays unfused)
     * @param planes      batch x d_inner, the warps to run
     * @param sharedOptin the device's opt-in shared memory per block
     */
    static Plan plan(boolean enabled, int dState, boolean zGate, boolean half, int h, int w, int dtRank, long planes,
                     int sharedOptin) {
        if (!enabled) return OFF;
        String not = whyNot(dState, zGate, half, h, w, dtRank);
        if (not != null) return Plan.unfused(not);
        long warpBytes = 4 * warpFloats(h, w, dtRank);
        if (warpBytes > sharedOptin) {
            return Plan.unfused(h + "x" + w + " plane: " + warpBytes + " bytes of shared memory per warp, the device "
                    + "allows " + sharedOptin + " per block");
        }
        int warps = (int) Math.max(1, Math.min(Math.min(MAX_WARPS, planes), sharedOptin / warpBytes));
        return new Plan(true, null, KERNELS[items((long) h * w) - 1], warps, Math.toIntExact(warpBytes * warps));
    }
}
