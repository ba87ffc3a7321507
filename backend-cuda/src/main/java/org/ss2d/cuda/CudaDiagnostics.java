package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.Tensor;

/**
 * Tools for tests and benchmarks of one {@link CudaBackend} ({@link CudaBackend#diagnostics()}):
 * device memory counts, NaN poison on device tensors, the empty kernel, event timing and the scan
 * kernel a shape gets. Calls that queue work hold the backend's lock, as its ops do.
 */
public final class CudaDiagnostics {
    private final CudaBackend backend;
    private final CudaDevice dev;

    CudaDiagnostics(CudaBackend backend, CudaDevice dev) {
        this.backend = backend;
        this.dev = dev;
    }

    /** Bytes held by live device buffers of the backend (tensors, cached weights, block scratch). */
    public long liveDeviceBytes() {
        return dev.liveBytes.get();
    }

    /** {free, total} bytes of device memory ({@code cuMemGetInfo}). */
    public long[] deviceMemoryInfo() {
        dev.makeCurrent();
        return CudaDriver.memInfo();
    }

    /** Fills a device tensor with a 32-bit pattern (NaN poison for tests: {@code 0x7fc00000}). */
    public void fillBits(Tensor t, int bits) {
        synchronized (backend) {
            dev.makeCurrent();
            CudaDriver.memsetD32(HostStaging.address(t), bits, t.elementCount(), dev.stream);
        }
    }

    /** Launches the empty kernel once (the fixed cost of a launch through FFM). */
    public void noop() {
        synchronized (backend) {
            dev.makeCurrent();
            Layers.noop(dev);
        }
    }

    /**
     * Device time of {@code op} in milliseconds, from CUDA events around it on the backend's stream
     * (median of {@code reps} after {@code warmup} runs).
     */
    public float timeMs(Runnable op, int warmup, int reps) {
        dev.makeCurrent();
        MemorySegment e0 = CudaDriver.eventCreate(true), e1 = CudaDriver.eventCreate(true);
        try {
            for (int i = 0; i < warmup; i++) op.run();
            float[] t = new float[reps];
            for (int i = 0; i < reps; i++) {
                CudaDriver.eventRecord(e0, dev.stream);
                op.run();
                CudaDriver.eventRecord(e1, dev.stream);
                CudaDriver.eventSynchronize(e1);
                t[i] = CudaDriver.eventElapsedMs(e0, e1);
            }
            java.util.Arrays.sort(t);
            return t[reps / 2];
        } finally {
            CudaDriver.eventDestroy(e0);
            CudaDriver.eventDestroy(e1);
        }
    }

    /** Streaming multiprocessors of the device: the launchers' plans depend on it (tests size shapes by it). */
    public int smCount() {
        return dev.smCount;
    }

    /** The kernel the scan launcher would pick for a shape (for benchmarks' notes). */
    public String scanKernelFor(ScanShape s) {
        return ScanLauncher.plan(ScanParams.forShape(s, true), dev.smCount).kernel();
    }

    /**
     * The kernel a scan of {@code s} runs on contiguous, freshly allocated device tensors with activations of
     * {@code input} and out of {@code out}: a 16-bit kernel's name, or {@code widened:} and the float32 kernel that
     * runs on the widened copies (no 16-bit kernel applies, or {@code -Dss2d.cuda.half=widen}).
     */
    public String scanKernelFor(ScanShape s, org.ss2d.tensor.DType input, org.ss2d.tensor.DType out) {
        long[] p = ScanParams.forShape(s, true);
        if (input.isHalf() && ScanLauncher.halfKernelsOn()) {
            ScanLauncher.Plan h = ScanLauncher.planHalf(p, input == org.ss2d.tensor.DType.BF16 ? 2 : 1, out.isHalf(),
                    dev.smCount);
            if (h != null) return h.kernel();
        }
        String k = ScanLauncher.plan(p, dev.smCount).kernel();
        return input.isHalf() ? "widened:" + k : k;
    }

    /**
     * For tests of fault handling: the next launch of a kernel whose name contains {@code kernelPart} fails in the
     * driver, as a real launch error would (see {@code Launch}).
     */
    public void failNextLaunch(String kernelPart) {
        Launch.failNextLaunch(kernelPart);
    }
}
