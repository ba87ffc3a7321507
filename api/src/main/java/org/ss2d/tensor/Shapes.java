package org.ss2d.tensor;

import java.util.Arrays;

/** Small helpers for shapes: element counts with overflow checks, and printing. */
public final class Shapes {
    private Shapes() {}

    /** Product of the dimensions; throws on a negative dimension or on overflow of a long. */
    public static long elementCount(long... shape) {
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": dimension " + i
                        + " is negative (" + shape[i] + ")");
            }
            n = Math.multiplyExact(n, shape[i]);
        }
        return n;
    }

    /** {@code (2, 3, 4)} style, as the spec and PyTorch print shapes. */
    public static String format(long... shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(shape[i]);
        }
        return sb.append(')').toString();
    }
}
