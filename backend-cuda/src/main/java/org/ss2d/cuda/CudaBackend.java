package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.bindings.CudaException;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.spi.PinnedMemory;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The CUDA backend: our kernels (fatbin) and cuBLAS, one device, one stream. Tensors made by
 * {@link #allocate} live on the device; ops take device or host tensors (host inputs are uploaded,
 * host outputs downloaded, in the same call). Work on device tensors is queued on the stream and
 * not waited for; {@link #synchronize()} waits. Ops are serialised on this instance.
 *
 * <p>Weights given as host tensors are uploaded once and kept (keyed by tensor identity) until the
 * host tensor closes or this backend does.
 */
public final class CudaBackend implements Backend, AutoCloseable {
    public static final String NAME = "cuda";

    private final CudaDevice dev;
    private final Capabilities caps;
    private final Map<Tensor, DeviceBuffer> weightCache = new IdentityHashMap<>();
    private final Map<Tensor, DeviceBuffer> aCache = new IdentityHashMap<>();
    /** The blocks' intermediates (see ScratchArena); weights and tensors never live in it. */
    private final ScratchArena scratchArena;
    /** Host-to-device uploads of weights (cache misses); an op that made one waits before returning. */
    private long weightUploads;

    CudaBackend(CudaDevice dev) {
        this.dev = dev;
        this.scratchArena = new ScratchArena(dev);
        this.caps = new Capabilities(ScanParams.MAX_DSTATE, Set.of(DType.F32), false, dev.describe(), dev.totalMemory,
                true, 0);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public Tensor allocate(TensorScope scope, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(org.ss2d.tensor.Shapes.elementCount(shape), dtype.byteSize());
        DeviceBuffer buf = DeviceBuffer.allocate(dev, bytes);
        try {
            return Tensor.device(scope, dtype, shape, buf);
        } catch (RuntimeException e) {
            buf.free();
            throw e;
        }
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        long bytes = src.byteSize();
        if (dst.byteSize() != bytes) {
            throw new IllegalArgumentException("dst: expected " + bytes + " bytes like " + src.describe() + ", found "
                    + dst.byteSize() + " (" + dst.describe() + ")");
        }
        if (src.isHost() && dst.isHost()) {
            MemorySegment.copy(src.segment(), 0, dst.segment(), 0, bytes);
            return;
        }
        dev.makeCurrent();
        if (src.isHost()) {
            CudaDriver.copyHostToDevice(address(dst), src.segment(), bytes, dev.stream);
            // From pinned memory the async copy returns before the DMA ends; the caller may change or
            // close the host tensor as soon as copy() returns, so wait.
            dev.synchronize();
        } else if (dst.isHost()) {
            // Pageable destination: the driver returns once the bytes are there.
            CudaDriver.copyDeviceToHost(dst.segment(), address(src), bytes, dev.stream);
            dev.synchronize();
        } else {
            CudaDriver.copyDeviceToDevice(address(dst), address(src), bytes, dev.stream);
        }
    }

    /**
     * Page-locks the host tensor's Arrow memory in place (cuMemHostRegister), so copies to and from it
     * are direct DMA at pinned bandwidth. Memory the driver cannot register (already registered
     * through an overlapping tensor on the same pages, or a file mapping) stays pageable: NONE.
     */
    @Override
    public PinnedMemory pin(Tensor host) {
        MemorySegment seg = host.segment();
        if (seg.byteSize() == 0) return PinnedMemory.NONE;
        synchronized (this) {
            dev.makeCurrent();
            try {
                CudaDriver.hostRegister(seg);
            } catch (CudaException e) {
                switch (e.errorName()) {
                    case "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "CUDA_ERROR_NOT_SUPPORTED", "CUDA_ERROR_INVALID_VALUE" -> {
                        return PinnedMemory.NONE;
                    }
                    default -> throw e;
                }
            }
        }
        return new PinnedMemory() {
            private boolean open = true;

            @Override
            public boolean pinned() {
                return open;
            }

            @Override
            public void close() {
                synchronized (CudaBackend.this) {
                    if (!open) return;
                    open = false;
                    dev.makeCurrent();
                    dev.synchronize(); // no copy may still be reading the pages
                    CudaDriver.hostUnregister(seg);
                }
            }
        };
    }

    /** Device address of a tensor of this backend. */
    private static long address(Tensor t) {
        if (!NAME.equals(t.deviceMemory().backend())) {
            throw new IllegalArgumentException(t.describe() + " belongs to backend " + t.deviceMemory().backend()
                    + ", not " + NAME);
        }
        return t.deviceMemory().address();
    }

    /** Device address of an input: itself if on the device, else an upload into {@code ws}. 0 for null. */
    private long input(Tensor t, Workspace ws) {
        if (t == null) return 0;
        if (!t.isHost()) return address(t);
        long d = ws.floats(t.elementCount());
        ws.hostTransfer();
        CudaDriver.copyHostToDevice(d, t.segment(), t.byteSize(), dev.stream);
        return d;
    }

    /** Device address for an output: itself, or a workspace buffer that {@link #finish} downloads. */
    private long output(Tensor t, Workspace ws) {
        if (t == null) return 0;
        if (!t.isHost()) return address(t);
        ws.hostTransfer();
        return ws.floats(t.elementCount());
    }

    private void finish(Tensor t, long d) {
        if (t != null && t.isHost()) CudaDriver.copyDeviceToHost(t.segment(), d, t.byteSize(), dev.stream);
    }

    /** A weight on the device: itself, or its cached upload. */
    private long weight(Tensor t) {
        if (t == null) return 0;
        if (!t.isHost()) return address(t);
        purgeClosed();
        DeviceBuffer b = weightCache.get(t);
        if (b == null) {
            b = DeviceBuffer.allocate(dev, t.byteSize());
            CudaDriver.copyHostToDevice(b.address(), t.segment(), t.byteSize(), dev.stream);
            weightCache.put(t, b);
            weightUploads++;
        }
        return b.address();
    }

    /** {@code A = -exp(A_logs)}, computed once per A_logs tensor (on the host: it is (4*d_inner, d_state)). */
    private long negExp(Tensor aLogs, TensorScope scratch) {
        purgeClosed();
        DeviceBuffer b = aCache.get(aLogs);
        if (b == null) {
            Tensor host = aLogs.isHost() ? aLogs : scratch.allocate(DType.F32, aLogs.shape());
            if (!aLogs.isHost()) copy(aLogs, host);
            float[] v = host.toFloatArray();
            for (int i = 0; i < v.length; i++) v[i] = (float) -Math.exp(v[i]);
            Tensor a = scratch.fromArray(v, aLogs.shape());
            b = DeviceBuffer.allocate(dev, a.byteSize());
            CudaDriver.copyHostToDevice(b.address(), a.segment(), a.byteSize(), dev.stream);
            aCache.put(aLogs, b);
            weightUploads++;
        }
        return b.address();
    }

    private void purgeClosed() {
        for (Map<Tensor, DeviceBuffer> m : java.util.List.of(weightCache, aCache)) {
            for (Iterator<Map.Entry<Tensor, DeviceBuffer>> it = m.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Tensor, DeviceBuffer> e = it.next();
                if (e.getKey().isClosed()) {
                    e.getValue().free();
                    it.remove();
                }
            }
        }
    }

    // ------------------------------------------------------------------------------ selective scan

    @Override
    public synchronized void selectiveScan(ScanArgs a, ScanShape s, Tensor out, Tensor lastState) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev)) {
            long[] p = new long[ScanParams.FIELDS];
            p[ScanParams.U] = input(a.u(), ws);
            p[ScanParams.DELTA] = input(a.delta(), ws);
            p[ScanParams.A] = input(a.A(), ws);
            p[ScanParams.B] = input(a.B(), ws);
            p[ScanParams.C] = input(a.C(), ws);
            p[ScanParams.D] = input(a.D(), ws);
            p[ScanParams.Z] = input(a.z(), ws);
            p[ScanParams.DELTA_BIAS] = input(a.deltaBias(), ws);
            p[ScanParams.OUT] = output(out, ws);
            p[ScanParams.LAST_STATE] = output(lastState, ws);
            fillScanShape(p, s, a.deltaSoftplus());
            ScanLauncher.launch(dev, p);
            finish(out, p[ScanParams.OUT]);
            finish(lastState, p[ScanParams.LAST_STATE]);
        }
    }

    /** Strides of contiguous tensors in the ScanShape's layout. */
    private static void fillScanShape(long[] p, ScanShape s, boolean softplus) {
        long L = s.seqlen(), N = s.dstate(), G = s.groups();
        p[ScanParams.BATCH] = s.batch();
        p[ScanParams.DIM] = s.dim();
        p[ScanParams.SEQLEN] = L;
        p[ScanParams.DSTATE] = N;
        p[ScanParams.GROUPS] = G;
        boolean varB = s.bMode() != BCMode.CONSTANT, varC = s.cMode() != BCMode.CONSTANT;
        p[ScanParams.FLAGS] = (varB ? ScanParams.VARIABLE_B : 0) | (varC ? ScanParams.VARIABLE_C : 0)
                | (softplus ? ScanParams.SOFTPLUS : 0);
        long row = L, batch = (long) s.dim() * L;
        p[ScanParams.U_BATCH_STRIDE] = p[ScanParams.DELTA_BATCH_STRIDE] = p[ScanParams.Z_BATCH_STRIDE] =
                p[ScanParams.OUT_BATCH_STRIDE] = batch;
        p[ScanParams.U_DIM_STRIDE] = p[ScanParams.DELTA_DIM_STRIDE] = p[ScanParams.Z_DIM_STRIDE] =
                p[ScanParams.OUT_DIM_STRIDE] = row;
        p[ScanParams.A_DIM_STRIDE] = N;
        p[ScanParams.A_STATE_STRIDE] = 1;
        bcStrides(p, varB, ScanParams.B_BATCH_STRIDE, G, N, L);
        bcStrides(p, varC, ScanParams.C_BATCH_STRIDE, G, N, L);
    }

    /** Variable (batch, [groups,] N, L): batch, group, state strides; constant (dim, N): dim stride in the group slot. */
    private static void bcStrides(long[] p, boolean variable, int first, long groups, long n, long len) {
        if (variable) {
            p[first] = groups * n * len;
            p[first + 1] = n * len;
            p[first + 2] = len;
        } else {
            p[first] = 0;
            p[first + 1] = n;
            p[first + 2] = 1;
        }
    }

    // ------------------------------------------------------------------------------ cross scan / merge

    @Override
    public synchronized void crossScan(Tensor x, Tensor out) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev)) {
            long xi = input(x, ws), o = output(out, ws);
            Layers.crossScan(dev, xi, o, x.dim(0), x.dim(1), x.dim(2), x.dim(3));
            finish(out, o);
        }
    }

    @Override
    public synchronized void crossMerge(Tensor ys, Tensor out) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev)) {
            long yi = input(ys, ws), o = output(out, ws);
            Layers.crossMerge(dev, yi, o, out.dim(0), out.dim(1), out.dim(2), out.dim(3));
            finish(out, o);
        }
    }

    // ------------------------------------------------------------------------------ blocks

    @Override
    public synchronized void ss2d(SS2DWeights w, Tensor x, Tensor out) {
        block(x, out, (ws, scratch, xi, o) -> Ss2dBlock.forward(dev, this::weight, t -> negExp(t, scratch), w, xi, o,
                (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), ws));
    }

    @Override
    public synchronized void vssBlock(VSSWeights w, Tensor x, Tensor out) {
        block(x, out, (ws, scratch, xi, o) -> Ss2dBlock.vss(dev, this::weight, t -> negExp(t, scratch), w, xi, o,
                (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), ws));
    }

    private interface BlockSteps {
        void run(Workspace ws, TensorScope scratch, long x, long out);
    }

    /**
     * A block on x -> out with its intermediates in the scratch arena: on device tensors with cached
     * weights it returns with the work queued (no allocation, no sync); host tensors or weight uploads
     * make it wait before returning, as the memory they read must stay put until then.
     */
    private void block(Tensor x, Tensor out, BlockSteps steps) {
        dev.makeCurrent();
        // The scratch scope holds host copies of A; it outlives the workspace, whose close waits for
        // the uploads that read them.
        TensorScope scratch = TensorScope.root("cuda-block-scratch");
        try (Workspace ws = new Workspace(dev, scratchArena)) {
            long uploads = weightUploads;
            long xi = input(x, ws), o = output(out, ws);
            steps.run(ws, scratch, xi, o);
            finish(out, o);
            if (weightUploads != uploads) ws.hostTransfer();
        } finally {
            scratch.release();
        }
    }

    /**
     * Frees the device scratch that the SS2D and VSS blocks keep between calls (it grows to the
     * largest block call seen; the next block call allocates it again).
     */
    public synchronized void releaseScratch() {
        dev.makeCurrent();
        scratchArena.reset();
    }

    /** Bytes of device scratch the blocks keep between calls (counted in {@link #liveDeviceBytes}). */
    public synchronized long scratchBytes() {
        return scratchArena.capacity();
    }

    @Override
    public void synchronize() {
        dev.makeCurrent();
        dev.synchronize();
    }

    /**
     * The device's free memory ({@code cuMemGetInfo}), unless {@code -Dss2d.max-bytes} is set: an op whose outputs
     * need more is a LimitExceededException before anything is allocated or launched, and {@code auto} moves on.
     */
    @Override
    public long memoryBudget() {
        long set = org.ss2d.validate.MemoryBudget.configured();
        return set >= 0 ? set : deviceMemoryInfo()[0];
    }

    // ------------------------------------------------------------------------------ tools for tests and benchmarks

    /** Bytes held by live device buffers of this backend (tensors, cached weights). */
    public long liveDeviceBytes() {
        return dev.liveBytes.get();
    }

    /** {free, total} bytes of device memory ({@code cuMemGetInfo}). */
    public long[] deviceMemoryInfo() {
        dev.makeCurrent();
        return CudaDriver.memInfo();
    }

    /** Fills a device tensor with a 32-bit pattern (NaN poison for tests: {@code 0x7fc00000}). */
    public synchronized void fillBits(Tensor t, int bits) {
        dev.makeCurrent();
        CudaDriver.memsetD32(address(t), bits, t.elementCount(), dev.stream);
    }

    /** Launches the empty kernel once (the fixed cost of a launch through FFM). */
    public synchronized void noop() {
        dev.makeCurrent();
        Layers.noop(dev);
    }

    /**
     * Device time of {@code op} in milliseconds, from CUDA events around it on our stream (median of
     * {@code reps} after {@code warmup} runs).
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

    /**
     * Device milliseconds per block step (in_proj, conv_silu, cross_scan, x_dt_proj, scan, cross_merge,
     * norm_out, out_proj; for VSS also norm_in, residual, norm2, mlp), averaged over {@code runs} of
     * {@code op}, from events recorded between the steps. For benchmarks: the events cost a little.
     */
    @Override
    public java.util.Map<String, Double> profileSteps(Runnable op, int runs) {
        StepMarks m = new StepMarks();
        synchronized (this) {
            dev.makeCurrent();
            dev.marks = m;
        }
        try {
            for (int i = 0; i < runs; i++) {
                synchronized (this) {
                    m.mark(dev, StepMarks.BEGIN);
                }
                op.run();
            }
            synchronized (this) {
                return m.collect(runs);
            }
        } finally {
            dev.marks = null;
        }
    }

    @Override
    public java.util.OptionalDouble deviceTimeMs(Runnable op, int warmup, int reps) {
        return java.util.OptionalDouble.of(timeMs(op, warmup, reps));
    }

    /** The kernel the scan launcher would pick for a shape (for benchmarks' notes). */
    public String scanKernelFor(ScanShape s) {
        long[] p = new long[ScanParams.FIELDS];
        fillScanShape(p, s, true);
        return ScanLauncher.plan(p, dev.smCount).kernel();
    }

    /** Frees cached weights and the device's handles. Tensors allocated here must be closed first. */
    @Override
    public synchronized void close() {
        RuntimeException failure = null;
        try {
            scratchArena.reset();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Map<Tensor, DeviceBuffer> m : java.util.List.of(weightCache, aCache)) {
            for (DeviceBuffer b : m.values()) {
                try {
                    b.free();
                } catch (RuntimeException e) {
                    if (failure == null) failure = e; else failure.addSuppressed(e);
                }
            }
            m.clear();
        }
        try {
            dev.close();
        } catch (RuntimeException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        if (failure != null) throw failure;
    }
}
