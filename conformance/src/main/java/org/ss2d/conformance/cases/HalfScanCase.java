package org.ss2d.conformance.cases;

import org.ss2d.interop.cases.OpKind;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.TensorScope;

/**
 * A {@link ScanCase} on half activations: u, delta, z and variable B/C in {@code dtype} (float16 or
 * bfloat16), A, D, delta_bias and constant B/C in float32 (mamba's rules), out in {@code dtype} or, with
 * {@code outFloat32}, in float32. The inputs are drawn as the float32 case's and rounded; the reference
 * runs on the rounded values.
 */
public record HalfScanCase(ScanCase scan, DType dtype, boolean outFloat32) implements ConformanceCase {
    public HalfScanCase {
        if (!dtype.isHalf()) throw new IllegalArgumentException("catalog bug: " + dtype + " is not a half dtype");
    }

    @Override
    public String id() {
        // the dtype right after the op's name, so that a listing groups the dtypes
        String base = scan.id();
        return "selective_scan " + dtype.arrowName() + (outFloat32 ? " +out_float32" : "")
                + base.substring("selective_scan".length());
    }

    @Override
    public OpKind op() {
        return OpKind.SELECTIVE_SCAN;
    }

    @Override
    public String shape() {
        return scan.shape();
    }

    @Override
    public int dstate() {
        return scan.dstate();
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        return scan.prepare(arena, dtype, outFloat32);
    }
}
