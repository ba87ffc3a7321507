package org.ss2d.cpu.simd;

import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * All Vector API static state, in one holder (Lucene's PanamaVectorConstants): the species and the
 * constant shuffles/masks the kernels use. The width is the platform's preferred one unless the
 * test-only property {@code ss2d.cpu.testVectorBits} (128, 256 or 512) narrows it, so that narrow
 * species can be tested on an AVX-512 machine. Everything is static final so that C2 folds it.
 */
final class SimdConstants {
    private SimdConstants() {}

    static final ByteOrder ORDER = ByteOrder.nativeOrder();
    static final VectorSpecies<Float> F = species();
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final int VL = F.length();
    static final int BITS = F.vectorBitSize();

    // In-register scan (Hillis-Steele): stage k reads lane i - k; lanes i < k take the identity.
    static final VectorShuffle<Float> SH1 = shiftBy(1), SH2 = shiftBy(2), SH4 = shiftBy(4), SH8 = shiftBy(8);
    static final VectorMask<Float> GE1 = from(1), GE2 = from(2), GE4 = from(4), GE8 = from(8);
    /** Every lane takes the last lane: the carry into the next vector. */
    static final VectorShuffle<Float> LAST = VectorShuffle.fromOp(F, i -> VL - 1);
    static final VectorShuffle<Float> REVERSE = VectorShuffle.fromOp(F, i -> VL - 1 - i);

    // The reverse scan (the backward's lam_t = c_t + a_{t+1} lam_{t+1}): stage k reads lane i + k; lanes i >= VL - k
    // take the identity; the carry into the previous vector is lane 0.
    static final VectorShuffle<Float> RSH1 = shiftBy(-1), RSH2 = shiftBy(-2), RSH4 = shiftBy(-4), RSH8 = shiftBy(-8);
    static final VectorMask<Float> LT1 = below(VL - 1), LT2 = below(VL - 2), LT4 = below(VL - 4), LT8 = below(VL - 8);
    static final VectorShuffle<Float> FIRST = VectorShuffle.fromOp(F, i -> 0);

    /**
     * Lane i takes lane i ^ k (k < VL; for narrower species the wider ones are unused): the butterflies of
     * {@link SimdMath#sum}, a lane sum in one fixed order.
     */
    static final VectorShuffle<Float> XOR1 = xor(1), XOR2 = xor(2), XOR4 = xor(4), XOR8 = xor(8);

    private static VectorShuffle<Float> xor(int k) {
        return VectorShuffle.fromOp(F, i -> (i ^ k) % VL);
    }

    private static VectorMask<Float> below(int k) {
        boolean[] m = new boolean[VL];
        for (int i = 0; i < VL; i++) m[i] = i < k;
        return VectorMask.fromArray(F, m, 0);
    }

    private static VectorSpecies<Float> species() {
        String p = System.getProperty("ss2d.cpu.testVectorBits", "").trim();
        if (p.isEmpty() || p.equals("0")) {
            return FloatVector.SPECIES_PREFERRED;
        }
        int bits;
        try {
            bits = Integer.parseInt(p);
        } catch (NumberFormatException e) {
            bits = -1;
        }
        if (bits != 128 && bits != 256 && bits != 512) {
            throw new IllegalArgumentException("-Dss2d.cpu.testVectorBits=" + p + ": valid values are 0, 128, 256, 512");
        }
        if (bits > FloatVector.SPECIES_PREFERRED.vectorBitSize()) {
            throw new UnsupportedOperationException("-Dss2d.cpu.testVectorBits=" + bits + " is wider than this CPU's "
                    + FloatVector.SPECIES_PREFERRED.vectorBitSize() + " bits");
        }
        return FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(bits));
    }

    private static VectorShuffle<Float> shiftBy(int k) {
        return VectorShuffle.fromOp(F, i -> Math.max(0, Math.min(i - k, VL - 1)));
    }

    private static VectorMask<Float> from(int k) {
        boolean[] m = new boolean[VL];
        for (int i = 0; i < VL; i++) m[i] = i >= k;
        return VectorMask.fromArray(F, m, 0);
    }
}
