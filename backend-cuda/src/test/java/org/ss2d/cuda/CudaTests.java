package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;
import org.ss2d.Backends;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.tensor.Tensor;

/**
 * Shared helpers of the GPU tests. Without CUDA they are skipped with the probe's reason (visible
 * in the surefire report); with {@code -Dss2d.require=cuda} a missing GPU is a failure instead.
 */
final class CudaTests {
    private CudaTests() {}

    static boolean required() {
        return "cuda".equalsIgnoreCase(System.getProperty("ss2d.require", "").trim());
    }

    private static final java.util.concurrent.atomic.AtomicBoolean ANNOUNCED = new java.util.concurrent.atomic.AtomicBoolean();

    /** Surefire's console shows skip counts, not reasons: say once, in the build log, why GPU tests skip. */
    private static void announceSkip(String reason) {
        if (ANNOUNCED.compareAndSet(false, true)) {
            System.err.println("[ss2d] CUDA tests SKIPPED: CUDA unavailable: " + reason
                    + " (run with -Dss2d.require=cuda on a GPU host to make this a failure)");
        }
    }

    /** The process-wide CUDA backend, or a skip / failure with the reason. */
    static CudaBackend backend() {
        CudaDriver.Probe p = CudaDriver.probe();
        if (!p.available()) {
            if (required()) fail("-Dss2d.require=cuda but CUDA is unavailable: " + p.reason());
            announceSkip(p.reason());
            Assumptions.abort("CUDA unavailable: " + p.reason());
        }
        return (CudaBackend) Backends.get("cuda");
    }

    /** max|got - ref| / max|ref| over host float32 tensors; NaN or a size mismatch fails. */
    static double relErr(Tensor got, Tensor ref) {
        float[] g = got.toFloatArray(), r = ref.toFloatArray();
        if (g.length != r.length) throw new AssertionError("sizes differ: " + g.length + " vs " + r.length);
        double maxd = 0, maxr = 0;
        for (int i = 0; i < g.length; i++) {
            if (!Float.isFinite(g[i])) return Double.NaN;
            maxd = Math.max(maxd, Math.abs((double) g[i] - r[i]));
            maxr = Math.max(maxr, Math.abs(r[i]));
        }
        return maxr > 0 ? maxd / maxr : maxd;
    }

    static void assertClose(Tensor got, Tensor ref, double tol, String what) {
        double e = relErr(got, ref);
        assertTrue(Double.isFinite(e) && e <= tol, what + ": relative error " + e + " (tolerance " + tol + ")");
    }
}
