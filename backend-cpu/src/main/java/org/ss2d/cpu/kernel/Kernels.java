package org.ss2d.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.util.Locale;

/**
 * The compute kernels of the CPU backend, in one of two implementations: {@code simd-<bits>} on
 * {@code jdk.incubator.vector}, or {@code scalar} plain Java. {@link #lookup()} picks once per process
 * (Lucene's VectorizationProvider pattern): the SIMD class is loaded by name only after every check
 * passed, so that no incubator class is linked in a JVM started without {@code --add-modules}.
 *
 * <p>Offsets and strides are in float elements. Kernels trust their arguments (the facade validated
 * the tensors); each method covers a slice of the work so that the backend can spread it over threads.
 */
public abstract class Kernels {
    private static final System.Logger LOG = System.getLogger("org.ss2d.cpu");
    static final String SIMD_CLASS = "org.ss2d.cpu.simd.SimdKernels";

    protected Kernels() {}

    /** {@code scalar} or {@code simd-512} (the vector width in bits). */
    public abstract String name();

    /** Lanes of a float vector, 1 for scalar. */
    public abstract int lanes();

    // ------------------------------------------------------------------ selective scan

    /**
     * Scans rows {@code [rowFrom, rowTo)} of {@code job} (row = batch * dim + channel). Callers split rows
     * at multiples of {@link #scanRowAlign(ScanJob)} so that a kernel may work on several channels at once.
     */
    public abstract void scan(ScanJob job, int rowFrom, int rowTo);

    /**
     * {@link #scan} of a job whose u, delta, z and variable B/C hold the 16-bit {@code dtype} (F16 or BF16), and whose
     * out holds it too when {@code outHalf} (else float32); A, D, delta_bias, constant B/C and lastState are float32.
     * The default stages blocks of rows in float32 for {@link #scan} ({@link HalfScan}); the SIMD kernels read the
     * halves in their own passes where they can.
     */
    public void scanHalf(ScanJob job, org.ss2d.tensor.DType dtype, boolean outHalf, int rowFrom, int rowTo) {
        HalfScan.scan(this, job, dtype, outHalf, rowFrom, rowTo);
    }

    /**
     * Bytes of scratch one thread keeps for a scan with these sizes (kept between calls): what the memory budget
     * counts per thread. Scalar kernels: the states of one row.
     */
    public long scanScratchBytes(int dim, int groups, int dstate) {
        return 4L * dstate;
    }

    /** Rows per indivisible unit of scan work (1, or the lanes of a channel-block kernel). */
    public int scanRowAlign(ScanJob job) {
        return 1;
    }

    /**
     * The backward of one row ({@code row = batch * dim + channel}) of {@code job}; see {@link ScanBackwardJob} for
     * what it writes. Rows that share a variable B/C row must run in one thread, in order (the backend does that).
     * The default is the plain Java kernel.
     */
    public void scanBackwardRow(ScanBackwardJob job, int row) {
        ScalarScanBackward.row(job, row);
    }

    /**
     * The backward of rows {@code [rowFrom, rowTo)}, in order (see {@link #scanBackwardRow}); callers split rows at
     * multiples of {@link #scanBackwardRowAlign} and never split the rows of one variable B/C row.
     */
    public void scanBackward(ScanBackwardJob job, int rowFrom, int rowTo) {
        for (int row = rowFrom; row < rowTo; row++) scanBackwardRow(job, row);
    }

    /** Rows per indivisible unit of backward work when B and C are constant (1, or the lanes of a block kernel). */
    public int scanBackwardRowAlign(ScanBackwardJob job) {
        return 1;
    }

    /** Bytes of row buffers one thread keeps for a scan backward of this length (kept between calls). */
    public long scanBackwardScratchBytes(int seqlen, int dstate) {
        return ScalarScanBackward.scratchBytes(seqlen);
    }

    // ------------------------------------------------------------------ 16-bit storage

    /**
     * {@code n} elements of a 16-bit {@code dtype} (F16 or BF16) at element {@code srcOff} widened to float32
     * at element {@code dstOff} (exact). The scalar form converts one element at a time.
     */
    public void halfToFloat(org.ss2d.tensor.DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
                            int n) {
        for (int i = 0; i < n; i++) {
            dst.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, dstOff + i, org.ss2d.tensor.HalfFloats.toFloat(
                    dtype, src.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, srcOff + i)));
        }
    }

    /** {@code n} float32 elements rounded to {@code dtype} (nearest, ties to even; past its range: infinity). */
    public void floatToHalf(org.ss2d.tensor.DType dtype, MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
                            int n) {
        for (int i = 0; i < n; i++) {
            dst.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, dstOff + i, org.ss2d.tensor.HalfFloats.fromFloat(
                    dtype, src.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, srcOff + i)));
        }
    }

    // ------------------------------------------------------------------ dense

    /**
     * {@code out[m, p] = act(sum_k w[m, k] * x[k, p] + bias[m]) + residual[m, p]} for rows
     * {@code [m0, m1)} and columns {@code [p0, p1)}. {@code w} is row-major with row stride {@code ldw};
     * x, out and residual have row stride {@code ldx}, {@code ldo}, {@code ldo}. bias, residual may be null.
     */
    public abstract void gemm(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx,
                              MemorySegment out, long outOff, int ldo, int k, int m0, int m1, int p0, int p1,
                              MemorySegment bias, long biasOff, Activation act, MemorySegment residual, long resOff);

    /**
     * W {@code (m, k)} (row stride {@code ldw}) laid out once in the form {@link #gemm} would pack it into on
     * every call, for weights that a model keeps for many calls; null where a kernel has no such form.
     * The result is a copy: later changes to {@code w} are not seen.
     */
    public Object packWeights(MemorySegment w, long wOff, int ldw, int m, int k) {
        return null;
    }

    /**
     * {@link #gemm} with weights from {@link #packWeights} ({@code packed} null: plain {@link #gemm} on
     * {@code w}). Rows {@code [m0, m1)} with {@code m0} a multiple of 16 use the packed form.
     */
    public void gemmPacked(Object packed, MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx,
                           MemorySegment out, long outOff, int ldo, int k, int m0, int m1, int p0, int p1,
                           MemorySegment bias, long biasOff, Activation act, MemorySegment residual, long resOff) {
        gemm(w, wOff, ldw, x, xOff, ldx, out, outOff, ldo, k, m0, m1, p0, p1, bias, biasOff, act, residual, resOff);
    }

    /** Elementwise activation fused into a GEMM's store. */
    public enum Activation { NONE, GELU }

    /**
     * Depthwise {@code k x k} convolution of one {@code H x W} plane with zero padding {@code (k-1)/2},
     * plus bias, then SiLU: {@code out = silu(conv(in) + bias)}.
     */
    public abstract void depthwiseConvSilu(MemorySegment in, long inOff, MemorySegment out, long outOff, int h, int w,
                                           MemorySegment weight, long weightOff, int k, float bias);

    /**
     * LayerNorm over {@code channels} values that sit {@code stride} apart (channels-first), for the pixels
     * {@code [p0, p1)} of one image: {@code out = (x - mean) / sqrt(var + eps) * gamma + beta}.
     */
    public abstract void layerNormChannels(MemorySegment in, long inOff, MemorySegment out, long outOff, int channels,
                                           int stride, int p0, int p1, MemorySegment gamma, MemorySegment beta,
                                           float eps);

    /** In place {@code x = gelu(x)} (erf form) over {@code n} floats from {@code off}. */
    public abstract void gelu(MemorySegment x, long off, long n);

    /** {@code y = y * silu(z)} over {@code n} floats: the z gate of VMamba's v0 SS2D. */
    public abstract void mulSilu(MemorySegment y, long yOff, MemorySegment z, long zOff, long n);

    // ------------------------------------------------------------------ cross scan / merge

    /** One {@code H x W} plane to its four routes (each of length H*W), spec 5.2. */
    public abstract void crossScanPlane(MemorySegment x, long xOff, int h, int w, MemorySegment out, long r0, long r1,
                                        long r2, long r3);

    /** {@code out[p] = ys0[p] + ys2[L-1-p] + ys1[T(p)] + ys3[L-1-T(p)]} for one plane (adjoint of the above). */
    public abstract void crossMergePlane(MemorySegment ys, long r0, long r1, long r2, long r3, int h, int w,
                                         MemorySegment out, long outOff);

    // ------------------------------------------------------------------ lookup

    private static final class Holder {
        static final Kernels INSTANCE = lookup();
    }

    /** The process-wide kernels (chosen on first use). */
    public static Kernels get() {
        return Holder.INSTANCE;
    }

    /** The plain Java kernels (also what the SIMD ones are tested against). */
    public static Kernels scalar() {
        return new ScalarKernels();
    }

    /**
     * {@code -Dss2d.cpu.kernels=auto|simd|scalar} (default auto). {@code simd} forced but unavailable throws;
     * {@code auto} falls back to scalar after one warning that names the missing flag.
     */
    static Kernels lookup() {
        return lookup(System.getProperty("ss2d.cpu.kernels", "auto"));
    }

    static Kernels lookup(String choice) {
        String want = choice.trim().toLowerCase(Locale.ROOT);
        switch (want) {
            case "scalar" -> {
                return new ScalarKernels();
            }
            case "auto", "simd" -> {
                String why = simdUnavailableReason();
                if (why == null) {
                    try {
                        return (Kernels) Class.forName(SIMD_CLASS).getDeclaredConstructor().newInstance();
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        if (!(e.getCause() instanceof UnsupportedOperationException uoe)) {
                            throw new IllegalStateException("CPU SIMD kernels failed to initialise", e.getCause());
                        }
                        why = uoe.getMessage();
                    } catch (ReflectiveOperationException e) {
                        throw new LinkageError("CPU SIMD kernels missing from the jar (packaging bug)", e);
                    }
                }
                if (want.equals("simd")) {
                    throw new IllegalStateException("-Dss2d.cpu.kernels=simd but " + why);
                }
                LOG.log(System.Logger.Level.WARNING, "ss2d cpu backend runs on SLOW scalar kernels: " + why);
                return new ScalarKernels();
            }
            default -> throw new IllegalArgumentException("-Dss2d.cpu.kernels=" + want + ": valid values are auto, simd, scalar");
        }
    }

    /** Null when the Vector API module is present, else the reason with the flag to add. */
    static String simdUnavailableReason() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "the Java Vector API is not enabled; start the JVM with --add-modules jdk.incubator.vector";
        }
        return null;
    }
}
