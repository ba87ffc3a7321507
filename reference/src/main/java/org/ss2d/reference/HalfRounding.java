package org.ss2d.reference;

import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * What a half dtype adds to an op's float32 budget (relative to the largest expected magnitude), by how the op
 * rounds; conformance's {@code Tolerances} applies it, and the backends' own tests (which cannot see conformance)
 * call it directly, so the rule is written once. u is the dtype's unit roundoff ({@link HalfFloats#unitRoundoff}:
 * 2^-8 bfloat16, 2^-11 float16), one ulp is 2u.
 *
 * <ul>
 *   <li>{@link #SINGLE}: the output is rounded once (the selective scan): u.</li>
 *   <li>{@link #STAGED}: activations are held in the dtype between steps (SS2D and VSS blocks, whole models; the
 *       reference rounds at the same points, {@link HalfSteps}). Now and then an intermediate's float32 and float64
 *       values lie on either side of a rounding boundary and round one ulp apart (a flip); through a projection a
 *       flip is spread thin, on the residual path ({@code x + SS2D(.)}, a block's output) it reaches the output
 *       whole. Each block on the path adds about one such ulp to an element, with independent signs, and flips seed
 *       flips until the backend's and the reference's trajectories no longer share their roundings, so over D
 *       blocks they add in quadrature: {@code u (1 + 2 sqrt(D))}, the output's own rounding included. A block is
 *       D = 1 (3u). The same bound covers the unrounded float64 reference (measured, conformance/TOLERANCES.md).</li>
 * </ul>
 * float32 adds nothing in either case.
 */
public enum HalfRounding {
    SINGLE,
    STAGED;

    /**
     * The budget added for an output of {@code dtype} reached through {@code blocks} blocks (STAGED; 1 for a block,
     * the blocks on the path to that output for a model; ignored for SINGLE).
     */
    public double extra(DType dtype, int blocks) {
        if (dtype == DType.F32) return 0.0;
        double u = HalfFloats.unitRoundoff(dtype);
        if (this == SINGLE) return u;
        if (blocks < 1) throw new IllegalArgumentException("blocks on the path: expected >= 1, found " + blocks);
        return u * (1 + 2 * Math.sqrt(blocks));
    }

    /** {@code f32 + extra(dtype, blocks)}. */
    public double budget(double f32, DType dtype, int blocks) {
        return f32 + extra(dtype, blocks);
    }

    /**
     * Blocks on the path from a VMamba's input to stage {@code stage}'s features ({@code depths[0] + ... +
     * depths[stage]}, at least 1: the stem rounds too); the logits are the last stage's.
     */
    public static int blocksThrough(int[] depths, int stage) {
        int d = 0;
        for (int i = 0; i <= stage; i++) d += depths[i];
        return Math.max(1, d);
    }
}
