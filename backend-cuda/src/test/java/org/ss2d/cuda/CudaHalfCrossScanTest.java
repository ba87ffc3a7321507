package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The CrossScan launchers (Layers.crossScan, crossScanHalf) with each kernel: the small-plane kernel ({@code
 * -Dss2d.cuda.crossScan=planes}, the default; planes over 1024 pixels stay tiled), {@code tiled} everywhere ({@code
 * -Dss2d.cuda.crossScan=tiled}) and the former 16-bit {@code gather} ({@code -Dss2d.cuda.crossScanHalf=gather}),
 * launched directly on fresh random inputs rounded to the dtype, output poisoned with NaN.
 * CrossScan only moves values, so every element must carry exactly the bits of the float64 reference and of the
 * float32 kernel run on the same rounded inputs: odd planes (1x1, 3x5, 7x7), several tiles and partial ones
 * (57x61, 33x65), H != W, several batches and channels, groups of small planes with a partial last block.
 */
class CudaHalfCrossScanTest {
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("cuda-half-cross-scan-test");
    }

    @AfterEach
    void close() {
        scope.release();
    }

    /** {b, c, h, w}. */
    private static final long[][] SHAPES = {
        {2, 3, 1, 1}, {1, 4, 3, 5}, {3, 2, 7, 7}, {2, 5, 14, 14}, {1, 3, 57, 61}, {2, 2, 5, 40}, {1, 2, 33, 65},
        {2, 1, 64, 31}, {1, 96, 56, 56}, {3, 100, 7, 7}, {2, 50, 14, 14}, {1, 7, 28, 28}, {1, 5, 32, 32}, {2, 3, 33, 31},
    };

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long[] s : SHAPES) {
            for (DType d : List.of(DType.BF16, DType.F16, DType.F32)) {
                for (String variant : List.of("tiled", "gather", "planes")) {
                    if (d != DType.F32 || !variant.equals("gather")) out.add(Arguments.of(variant, d, s[0], s[1], s[2], s[3]));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} ({2},{3},{4},{5})")
    @MethodSource("cases")
    void copiesEveryValueExactly(String variant, DType d, long b, long c, long h, long w) {
        CudaBackend cuda = CudaTests.backend();
        CudaDevice dev = cuda.device();
        long n = b * c * h * w, outN = 4 * n;
        Tensor hx = scope.convert(RandomWeights.gaussian(scope, 7 + n + h, 1.0, b, c, h, w), d);
        Tensor rounded = scope.convert(hx, DType.F32);
        Tensor dx = cuda.allocate(scope, d, n), dout = cuda.allocate(scope, d, outN);
        cuda.copy(hx, dx);
        cuda.copy(scope.allocate(d, outN).fill(Float.NaN), dout);
        String oldHalf = System.getProperty(Layers.CROSS_SCAN_HALF_PROPERTY);
        String old = System.getProperty(Layers.CROSS_SCAN_PROPERTY);
        try {
            System.setProperty(Layers.CROSS_SCAN_HALF_PROPERTY, variant.equals("gather") ? "gather" : "tiled");
            System.setProperty(Layers.CROSS_SCAN_PROPERTY, variant.equals("planes") ? "planes" : "tiled");
            synchronized (cuda) {
                dev.makeCurrent();
                long x = HostStaging.address(dx), xs = HostStaging.address(dout);
                if (d == DType.F32) Layers.crossScan(dev, x, xs, b, c, h, w);
                else Layers.crossScanHalf(dev, d == DType.F16 ? 1 : 2, x, xs, b, c, h, w);
            }
            cuda.synchronize();
        } finally {
            restore(Layers.CROSS_SCAN_HALF_PROPERTY, oldHalf);
            restore(Layers.CROSS_SCAN_PROPERTY, old);
        }
        Tensor back = scope.allocate(d, outN);
        cuda.copy(dout, back);
        float[] got = back.toFloatArray();
        String who = "cuda cross_scan " + variant + (variant.equals("planes") && !Layers.planesFitLen(h * w) ? " (tiled: plane too large)" : "")
                + " " + d + " (" + b + "," + c + "," + h + "," + w + ")";
        try (Tensor ref = Ss2d.on("reference").crossScan(scope, rounded);
             Tensor f32 = Ss2d.on(cuda).crossScan(scope, rounded)) {
            assertSameBits(who + " vs the float64 reference", got, ref.toFloatArray());
            assertSameBits(who + " vs the float32 kernel", got, f32.toFloatArray());
        }
    }

    /** Bit for bit (a poisoned NaN never matches a finite value); names the first element that differs. */
    private static void assertSameBits(String who, float[] got, float[] want) {
        assertEquals(want.length, got.length, who + ": element count");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                fail(who + ": element " + i + " is " + got[i] + ", expected " + want[i]);
            }
        }
        for (float v : want) assertTrue(Float.isFinite(v), who + ": the reference holds a non-finite value");
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }

    /** A misspelt variant is an error naming the property, not a silent fall back (no GPU needed). */
    @Test
    void anUnknownVariantIsRejected() {
        String oldHalf = System.getProperty(Layers.CROSS_SCAN_HALF_PROPERTY);
        String old = System.getProperty(Layers.CROSS_SCAN_PROPERTY);
        try {
            System.setProperty(Layers.CROSS_SCAN_HALF_PROPERTY, "tiles");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Layers::crossScanHalfVariant);
            assertTrue(e.getMessage().contains("ss2d.cuda.crossScanHalf") && e.getMessage().contains("tiles"), e.getMessage());
            System.clearProperty(Layers.CROSS_SCAN_HALF_PROPERTY);
            assertEquals("tiled", Layers.crossScanHalfVariant());
            System.setProperty(Layers.CROSS_SCAN_PROPERTY, "plane");
            e = assertThrows(IllegalArgumentException.class, Layers::crossScanVariant);
            assertTrue(e.getMessage().contains("ss2d.cuda.crossScan:") && e.getMessage().contains("plane"), e.getMessage());
            System.clearProperty(Layers.CROSS_SCAN_PROPERTY);
            assertEquals("planes", Layers.crossScanVariant());
        } finally {
            restore(Layers.CROSS_SCAN_HALF_PROPERTY, oldHalf);
            restore(Layers.CROSS_SCAN_PROPERTY, old);
        }
    }

    /**
     * Which kernel a plane gets (no GPU needed): by default the small-plane kernel up to 1024 pixels (7x7 .. 32x32,
     * 1x1024) and tiles above (33x32, 56x56, 1x1025); {@code tiled} forces tiles on every plane.
     */
    @Test
    void thePropertyPicksTheKernelByPlaneSize() {
        String old = System.getProperty(Layers.CROSS_SCAN_PROPERTY);
        try {
            for (String value : new String[] {null, "planes", " planes "}) {
                if (value == null) System.clearProperty(Layers.CROSS_SCAN_PROPERTY);
                else System.setProperty(Layers.CROSS_SCAN_PROPERTY, value);
                for (long[] hw : new long[][] {{1, 1}, {7, 7}, {14, 14}, {28, 28}, {32, 32}, {1, 1024}}) {
                    assertTrue(Layers.planesFit(hw[0], hw[1]), value + ": " + hw[0] + "x" + hw[1] + " should take planes");
                }
                for (long[] hw : new long[][] {{33, 32}, {32, 33}, {56, 56}, {1, 1025}, {57, 61}}) {
                    assertFalse(Layers.planesFit(hw[0], hw[1]), value + ": " + hw[0] + "x" + hw[1] + " should stay tiled");
                }
            }
            System.setProperty(Layers.CROSS_SCAN_PROPERTY, "tiled");
            for (long[] hw : new long[][] {{1, 1}, {7, 7}, {14, 14}, {28, 28}, {32, 32}, {56, 56}}) {
                assertFalse(Layers.planesFit(hw[0], hw[1]), "tiled: " + hw[0] + "x" + hw[1] + " should stay tiled");
            }
        } finally {
            restore(Layers.CROSS_SCAN_PROPERTY, old);
        }
    }

    /** The small-plane kernel's blocks stay within its shared memory (SS2D_PLANES_ELEMS values, SS2D_PLANES_MAX planes). */
    @Test
    void planesPerBlockFitTheKernelsSharedMemory() {
        for (long len = 1; len <= Layers.PLANES_MAX_LEN; len++) {
            long per = Layers.planesPerBlock(len);
            assertTrue(per >= 1 && per <= Layers.PLANES_MAX && per * len <= Layers.PLANES_ELEMS, "len " + len + ": " + per);
        }
        assertEquals(83, Layers.planesPerBlock(49));
        assertEquals(20, Layers.planesPerBlock(196));
    }
}
