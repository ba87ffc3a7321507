package org.ss2d.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.SplittableRandom;
import org.ss2d.bindings.Cublas;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.ops.GemmShape;
import org.ss2d.spi.DeviceRates;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;

/**
 * {@link CudaBackend#measureRates}: the device-to-device copy bandwidth and the cuBLAS GEMM rate, in the precision a
 * model of the dtype runs its projections in (float32 pedantic or TF32 as the handle is set, or 16-bit inputs with
 * float32 compute), timed with events on the backend's stream, best of a few runs after one untimed. The GEMMs are
 * called as {@link Layers#linear} calls them (strided-batched, the weight shared), on random values (a constant
 * operand lets tensor cores draw less power and run faster than they would on real data).
 */
final class RateProbe {
    /** M = N = K of the large GEMM. */
    static final int SQUARE = 8192;
    /** Bytes of each buffer of the copy. */
    static final long COPY_BYTES = 512L << 20;
    static final int REPS = 3, COPY_REPS = 5;

    private final CudaDevice dev;
    private final DType dtype;
    private final int elem;

    private RateProbe(CudaDevice dev, DType dtype) {
        this.dev = dev;
        this.dtype = dtype;
        this.elem = dtype.byteSize();
    }

    /** Called with the backend's lock held and its context current. */
    static DeviceRates measure(CudaDevice dev, DType dtype, Map<GemmShape, Integer> modelGemms) {
        return new RateProbe(dev, dtype).run(modelGemms);
    }

    private DeviceRates run(Map<GemmShape, Integer> modelGemms) {
        double copyGBps = copyGBps();
        GemmShape square = new GemmShape(SQUARE, SQUARE, SQUARE, 1);
        long wMax = (long) SQUARE * SQUARE, xMax = wMax, yMax = wMax;
        for (GemmShape g : modelGemms.keySet()) {
            wMax = Math.max(wMax, (long) g.m() * g.k());
            xMax = Math.max(xMax, (long) g.k() * g.n() * g.batch());
            yMax = Math.max(yMax, (long) g.m() * g.n() * g.batch());
        }
        DeviceBuffer w = DeviceBuffer.allocate(dev, wMax * elem);
        DeviceBuffer x = null, y = null;
        try (Arena a = Arena.ofConfined()) {
            x = DeviceBuffer.allocate(dev, xMax * elem);
            y = DeviceBuffer.allocate(dev, yMax * elem);
            fillRandom(w, 1);
            fillRandom(x, 2);
            MemorySegment scalars = Cublas.scalars(a, 1f, 0f);
            double squareTflops = square.flops() / (bestMs(square, scalars, w, x, y) * 1e9);
            double flops = 0, ms = 0;
            int used = 0;
            for (var e : modelGemms.entrySet()) {
                GemmShape g = e.getKey();
                // only the shapes that the roofline of the two rates calls compute-bound: a thin GEMM's time is its bytes
                if (g.flops() / (squareTflops * 1e9) < g.bytes(elem) / (copyGBps * 1e6)) continue;
                flops += (double) g.flops() * e.getValue();
                ms += bestMs(g, scalars, w, x, y) * e.getValue();
                used++;
            }
            double modelTflops = used == 0 ? squareTflops : flops / (ms * 1e9);
            String mode = dtype.isHalf() ? dtype.arrowName() : dev.tf32 ? "tf32" : "float32";
            return new DeviceRates(copyGBps, squareTflops, SQUARE, modelTflops, used, mode);
        } finally {
            w.free();
            if (x != null) x.free();
            if (y != null) y.free();
        }
    }

    /** Bytes read plus bytes written per second / 1e9, best of a few {@code cuMemcpyDtoDAsync} of 512 MiB. */
    private double copyGBps() {
        DeviceBuffer src = DeviceBuffer.allocate(dev, COPY_BYTES);
        DeviceBuffer dst = null;
        try {
            dst = DeviceBuffer.allocate(dev, COPY_BYTES);
            CudaDriver.memsetD32(src.address(), 0x3f800000, COPY_BYTES / 4, dev.stream);
            long s = src.address(), d = dst.address();
            double best = time(() -> CudaDriver.copyDeviceToDevice(d, s, COPY_BYTES, dev.stream), COPY_REPS);
            return 2.0 * COPY_BYTES / (best * 1e6);
        } finally {
            src.free();
            if (dst != null) dst.free();
        }
    }

    private double bestMs(GemmShape g, MemorySegment scalars, DeviceBuffer w, DeviceBuffer x, DeviceBuffer y) {
        return time(() -> gemm(g, scalars, w.address(), x.address(), y.address()), REPS);
    }

    /** {@code y (batch, m, n) = w (m, k) . x (batch, k, n)}, as {@link Layers#linear} / {@link Layers#linearHalf}. */
    private void gemm(GemmShape g, MemorySegment scalars, long w, long x, long y) {
        long xs = (long) g.k() * g.n(), ys = (long) g.m() * g.n();
        if (!dtype.isHalf()) {
            Cublas.sgemmStridedBatched(dev.cublas(), Cublas.opN(), Cublas.opN(), g.n(), g.m(), g.k(), scalars, x, g.n(),
                    xs, w, g.k(), 0L, y, g.n(), ys, g.batch());
        } else {
            int t = dtype == DType.F16 ? Cublas.R_16F : Cublas.R_16BF;
            Cublas.gemmStridedBatchedEx(dev.cublas(), Cublas.opN(), Cublas.opN(), g.n(), g.m(), g.k(), scalars, x, t,
                    g.n(), xs, w, t, g.k(), 0L, y, t, g.n(), ys, g.batch());
        }
    }

    /** Best device time in milliseconds of {@code reps} runs after one untimed run. */
    private double time(Runnable op, int reps) {
        MemorySegment e0 = CudaDriver.eventCreate(true);
        MemorySegment e1;
        try {
            e1 = CudaDriver.eventCreate(true);
        } catch (RuntimeException e) {
            CudaDriver.eventDestroy(e0);   // the first event must not outlive a failure to make the second
            throw e;
        }
        try {
            op.run();
            double best = Double.MAX_VALUE;
            for (int i = 0; i < reps; i++) {
                CudaDriver.eventRecord(e0, dev.stream);
                op.run();
                CudaDriver.eventRecord(e1, dev.stream);
                CudaDriver.eventSynchronize(e1);
                best = Math.min(best, CudaDriver.eventElapsedMs(e0, e1));
            }
            return best;
        } finally {
            CudaDriver.eventDestroy(e0);
            CudaDriver.eventDestroy(e1);
        }
    }

    /** Uniform values in [-1, 1) of the dtype: 4 MiB drawn on the host, then doubled on the device to fill the buffer. */
    private void fillRandom(DeviceBuffer b, long seed) {
        long n = Math.min(b.byteSize(), 4L << 20) / elem;
        SplittableRandom r = new SplittableRandom(seed);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(n * elem, 16);
            for (long i = 0; i < n; i++) {
                float v = (float) (2 * r.nextDouble() - 1);
                if (elem == 4) host.setAtIndex(ValueLayout.JAVA_FLOAT, i, v); else HalfFloats.set(host, dtype, i, v);
            }
            CudaDriver.copyHostToDevice(b.address(), host, n * elem, dev.stream);
            dev.synchronize(); // the host segment is freed with the arena
        }
        long done = n * elem;
        while (done < b.byteSize()) {
            long chunk = Math.min(done, b.byteSize() - done);
            CudaDriver.copyDeviceToDevice(b.address() + done, b.address(), chunk, dev.stream);
            done += chunk;
        }
    }
}
