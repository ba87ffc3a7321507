package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Set;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.bindings.CudaException;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.spi.PinnedMemory;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The CUDA backend's SPI entry points: our kernels (fatbin) and cuBLAS, one device, one stream.
 * Tensors made by {@link #allocate} live on the device; ops take device or host tensors (host inputs
 * are uploaded, host outputs downloaded, in the same call: {@link HostStaging}). Work on device
 * tensors is queued on the stream and not waited for; {@link #synchronize()} waits. Ops are
 * serialised on this instance.
 *
 * <p>Weights given as host tensors are uploaded once and kept ({@link WeightCache}, keyed by tensor
 * identity) until the host tensor closes or this backend does, and uploaded again when the tensor
 * changed since ({@link Tensor#generation()}). The blocks' steps are in {@link Ss2dBlock}, the scan's
 * launch parameters in {@link ScanParams}; tools for tests and benchmarks in {@link CudaDiagnostics}.
 */
public final class CudaBackend implements Backend {
    public static final String NAME = "cuda";

    private final CudaDevice dev;
    private final Capabilities caps;
    private final HostStaging staging;
    private final WeightCache<DeviceBuffer> weights;
    /** {@code A = -exp(A_logs)} per A_logs tensor, computed on the host (it is (4*d_inner, d_state)). */
    private final WeightCache<DeviceBuffer> negExpA;
    /** Per half dtype: the projections' matrices in that type, and the other converted weights as rounded float32. */
    private final java.util.EnumMap<DType, WeightCache<DeviceBuffer>> halfMatrices = new java.util.EnumMap<>(DType.class),
            roundedWeights = new java.util.EnumMap<>(DType.class);
    /** The blocks' intermediates (see ScratchArena); weights and tensors never live in it. */
    private final ScratchArena scratchArena;
    private final CudaDiagnostics diagnostics;

    CudaBackend(CudaDevice dev) {
        this.dev = dev;
        this.staging = new HostStaging(dev);
        this.weights = new WeightCache<>(this::upload, DeviceBuffer::free);
        this.negExpA = new WeightCache<>(this::uploadNegExp, DeviceBuffer::free);
        for (DType t : new DType[] {DType.F16, DType.BF16}) {
            halfMatrices.put(t, new WeightCache<>(w -> uploadConverted(w, t, true), DeviceBuffer::free));
            roundedWeights.put(t, new WeightCache<>(w -> uploadConverted(w, t, false), DeviceBuffer::free));
        }
        this.scratchArena = new ScratchArena(dev);
        this.diagnostics = new CudaDiagnostics(this, dev);
        // float16/bfloat16: the selective scan's activations (16-bit kernels, else widened: see selectiveScan)
        // and the blocks' and models' dtype option (half_layers.cuh, cuBLAS with 16-bit inputs)
        this.caps = new Capabilities(ScanParams.MAX_DSTATE, Set.of(DType.F32, DType.F16, DType.BF16), false, dev.describe(), dev.totalMemory,
                true, 0, Set.of(DType.F32, DType.F16, DType.BF16));
    }

    /** {@code tf32} with {@code -Dss2d.cuda.tf32=true} (cuBLAS may then round the projections' inputs to TF32). */
    @Override
    public String gemmPrecision() {
        return dev.tf32 ? "tf32" : "float32";
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
    public org.ss2d.tensor.DeviceMemory openIpcMemory(byte[] handle, long bytes) {
        return IpcMemory.open(dev, handle, bytes);
    }

    @Override
    public org.ss2d.spi.StreamFlags registerStreamFlags(java.lang.foreign.MemorySegment host) {
        return CudaStreamFlags.register(dev, host);
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
            CudaDriver.copyHostToDevice(HostStaging.address(dst), src.segment(), bytes, dev.stream);
            // From pinned memory the async copy returns before the DMA ends; the caller may change or
            // close the host tensor as soon as copy() returns, so wait.
            dev.synchronize();
        } else if (dst.isHost()) {
            // Pageable destination: the driver returns once the bytes are there.
            CudaDriver.copyDeviceToHost(dst.segment(), HostStaging.address(src), bytes, dev.stream);
            dev.synchronize();
        } else {
            CudaDriver.copyDeviceToDevice(HostStaging.address(dst), HostStaging.address(src), bytes, dev.stream);
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

    /** A weight on the device: itself, or its cached upload. 0 for null. */
    private long weight(Tensor t) {
        if (t == null) return 0;
        if (!t.isHost()) return HostStaging.address(t);
        return weights.get(t).address();
    }

    private DeviceBuffer upload(Tensor host) {
        DeviceBuffer b = DeviceBuffer.allocate(dev, host.byteSize());
        CudaDriver.copyHostToDevice(b.address(), host.segment(), host.byteSize(), dev.stream);
        return b;
    }

    /**
     * A float32 weight converted once for blocks in the half {@code dtype} (then cached like any weight): in that
     * type ({@code asHalf}, the projections cuBLAS reads), or as float32 holding the rounded values (what the layer
     * kernels read). A device weight is read back to the host for the conversion.
     */
    private DeviceBuffer uploadConverted(Tensor w, DType dtype, boolean asHalf) {
        TensorScope scratch = TensorScope.root("cuda-converted-weight");
        try {
            Tensor host = w.isHost() ? w : scratch.allocate(DType.F32, w.shape());
            if (!w.isHost()) copy(w, host);
            float[] v = host.toFloatArray();
            Tensor c;
            if (asHalf) {
                c = scratch.fromArray("converted", dtype, v, w.shape());
            } else {
                for (int i = 0; i < v.length; i++) v[i] = org.ss2d.tensor.HalfFloats.round(dtype, v[i]);
                c = scratch.fromArray(v, w.shape());
            }
            DeviceBuffer b = DeviceBuffer.allocate(dev, c.byteSize());
            CudaDriver.copyHostToDevice(b.address(), c.segment(), c.byteSize(), dev.stream);
            dev.synchronize(); // the copy reads the scope's host tensor
            return b;
        } finally {
            scratch.release();
        }
    }

    /** Where a block in the half {@code dtype} finds its weights ({@link Ss2dBlock.Half}). */
    private Ss2dBlock.Half half(DType dtype) {
        WeightCache<DeviceBuffer> m = halfMatrices.get(dtype), r = roundedWeights.get(dtype);
        return new Ss2dBlock.Half(dtype == DType.F16 ? 1 : 2, t -> t == null ? 0 : m.get(t).address(),
                t -> t == null ? 0 : r.get(t).address(), this::weight, this::negExpA);
    }

    private long halfUploads() {
        long n = 0;
        for (WeightCache<DeviceBuffer> c : halfMatrices.values()) n += c.uploads();
        for (WeightCache<DeviceBuffer> c : roundedWeights.values()) n += c.uploads();
        return n;
    }

    private DeviceBuffer uploadNegExp(Tensor aLogs) {
        // An arena: its host tensors die with it (release), so close() must not see them as a leak.
        TensorScope scratch = TensorScope.root("cuda-neg-exp-a");
        try {
            Tensor host = aLogs.isHost() ? aLogs : scratch.allocate(DType.F32, aLogs.shape());
            if (!aLogs.isHost()) copy(aLogs, host);
            float[] v = host.toFloatArray();
            for (int i = 0; i < v.length; i++) v[i] = (float) -Math.exp(v[i]);
            Tensor a = scratch.fromArray(v, aLogs.shape());
            DeviceBuffer b = DeviceBuffer.allocate(dev, a.byteSize());
            CudaDriver.copyHostToDevice(b.address(), a.segment(), a.byteSize(), dev.stream);
            // the copy may still read the host tensor, which the scope frees
            dev.synchronize();
            return b;
        } finally {
            scratch.release();
        }
    }

    // ------------------------------------------------------------------------------ selective scan

    @Override
    public synchronized void selectiveScan(ScanArgs a, ScanShape s, Tensor out, Tensor lastState) {
        dev.makeCurrent();
        // On device tensors (the facade keeps every tensor of an op on one device) the widened copies of 16-bit
        // inputs come from the scratch arena, so repeated calls of a shape neither allocate nor wait; host inputs
        // are staged in buffers of their own, freed when the call returns.
        try (Workspace ws = new Workspace(dev, a.u().isHost() ? null : scratchArena)) {
            long[] p = scanInputs(a, s, ws);
            long o = staging.output(out, ws);
            p[ScanParams.OUT] = o;
            p[ScanParams.LAST_STATE] = staging.output(lastState, ws);
            DType in = a.u().dtype();
            boolean halfOut = out.dtype() != DType.F32;
            // 16-bit activations: ScanLauncher.planHalf's kernel (all of dstate 1..64 but a few layouts), else widened copies
            if (!in.isHalf() || !ScanLauncher.launchHalf(dev, p, halfKind(in), halfOut)) {
                p[ScanParams.U] = widened(a.u(), p[ScanParams.U], ws);
                p[ScanParams.DELTA] = widened(a.delta(), p[ScanParams.DELTA], ws);
                p[ScanParams.B] = widened(a.B(), p[ScanParams.B], ws);
                p[ScanParams.C] = widened(a.C(), p[ScanParams.C], ws);
                p[ScanParams.Z] = widened(a.z(), p[ScanParams.Z], ws);
                if (halfOut) p[ScanParams.OUT] = ws.floats(out.elementCount());
                ScanLauncher.launch(dev, p);
                if (halfOut) Layers.floatToHalf(dev, p[ScanParams.OUT], o, out.elementCount(), halfKind(out.dtype()));
            }
            staging.finish(out, o);
            staging.finish(lastState, p[ScanParams.LAST_STATE]);
        }
    }

    /** The forward's parameter block with every input on the device (staged when on the host); outputs unset. */
    private long[] scanInputs(ScanArgs a, ScanShape s, Workspace ws) {
        long[] p = ScanParams.forShape(s, a.deltaSoftplus());
        p[ScanParams.U] = staging.input(a.u(), ws);
        p[ScanParams.DELTA] = staging.input(a.delta(), ws);
        p[ScanParams.A] = staging.input(a.A(), ws);
        p[ScanParams.B] = staging.input(a.B(), ws);
        p[ScanParams.C] = staging.input(a.C(), ws);
        p[ScanParams.D] = staging.input(a.D(), ws);
        p[ScanParams.Z] = staging.input(a.z(), ws);
        p[ScanParams.DELTA_BIAS] = staging.input(a.deltaBias(), ws);
        return p;
    }

    /**
     * The selective scan backward ({@link ScanBackwardLauncher}): float32 (the facade refuses half inputs), the
     * forward recomputed from segment-start states, reduced gradients summed in a fixed order (no atomics). Its
     * workspace comes from the scratch arena that the blocks use, so that repeated calls of a shape on device
     * tensors (a training loop) allocate nothing and do not wait for the device.
     */
    @Override
    public synchronized void selectiveScanBackward(ScanArgs a, ScanShape s, Tensor dout, Tensor dLastState,
                                                   org.ss2d.ops.ScanGrads grads) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev, scratchArena)) {
            long[] p = scanInputs(a, s, ws);
            long[] q = new long[ScanParams.BWD_FIELDS];
            q[ScanParams.BWD_DOUT] = staging.input(dout, ws);
            q[ScanParams.BWD_DLAST] = staging.input(dLastState, ws);
            Tensor[] g = grads.tensors();
            long[] o = new long[g.length];
            for (int i = 0; i < g.length; i++) o[i] = staging.output(g[i], ws);
            q[ScanParams.BWD_DU] = o[0];
            q[ScanParams.BWD_DDELTA] = o[1];
            q[ScanParams.BWD_DZ] = o[6];
            ScanBackwardLauncher.launch(dev, s, p, q, o[2], o[3], o[4], o[5], o[7], ws);
            for (int i = 0; i < g.length; i++) staging.finish(g[i], o[i]);
        }
    }

    /**
     * Segment-start states, per-row sums and the blocks' slices of variable dB/dC ({@link ScanBackwardLauncher}),
     * less what the scratch arena already holds.
     */
    @Override
    public long scanBackwardWorkingBytes(ScanShape s) {
        return Math.max(0, ScanBackwardLauncher.workspaceBytes(s,
                ScanBackwardLauncher.plan(s, dev.smCount, dev.sharedPerBlockOptin))
                - scratchBytes());
    }

    @Override
    public java.util.Optional<String> scanKernel(ScanShape s, DType input, DType out) {
        return java.util.Optional.of(diagnostics().scanKernelFor(s, input, out));
    }

    /** A float32 copy of a scan input already on the device at {@code d}: d itself for float32, else widened into ws. */
    private long widened(Tensor t, long d, Workspace ws) {
        if (t == null || t.dtype() == DType.F32) return d;
        long f = ws.floats(t.elementCount());
        Layers.halfToFloat(dev, d, f, t.elementCount(), halfKind(t.dtype()));
        return f;
    }


    private static long halfKind(DType d) {
        return d == DType.BF16 ? 2 : 1;
    }

    /** A half scan also holds float32 copies of its activations and of out in the workspace. */
    @Override
    public long scanWorkingBytes(ScanShape s, DType input) {
        long base = scanWorkingBytes(s);
        if (input == DType.F32) return base;
        long act = org.ss2d.validate.MemoryBudget.product(s.batch(), s.dim(), s.seqlen(), 4 * 4L);
        long bc = org.ss2d.validate.MemoryBudget.product(s.batch(), s.groups(), s.dstate(), s.seqlen(), 2 * 4L);
        return org.ss2d.validate.MemoryBudget.saturatingAdd(base, org.ss2d.validate.MemoryBudget.saturatingAdd(act, bc));
    }

    // ------------------------------------------------------------------------------ cross scan / merge

    @Override
    public synchronized void crossScan(Tensor x, Tensor out) {
        oneInOneOut(x, out, (in, o) -> Layers.crossScan(dev, in, o, x.dim(0), x.dim(1), x.dim(2), x.dim(3)));
    }

    @Override
    public synchronized void crossMerge(Tensor ys, Tensor out) {
        oneInOneOut(ys, out, (in, o) -> Layers.crossMerge(dev, in, o, out.dim(0), out.dim(1), out.dim(2), out.dim(3)));
    }

    /** A launch on device addresses. */
    private interface Launch {
        void run(long in, long out);
    }

    /** A one-launch op on {@code in -> out}, staging host tensors through its own workspace. */
    private void oneInOneOut(Tensor in, Tensor out, Launch launch) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev)) {
            long i = staging.input(in, ws), o = staging.output(out, ws);
            launch.run(i, o);
            staging.finish(out, o);
        }
    }

    // ------------------------------------------------------------------------------ blocks

    @Override
    public synchronized void ss2d(SS2DWeights w, Tensor x, Tensor out) {
        if (x.dtype().isHalf()) {
            Ss2dBlock.Half p = half(x.dtype());
            block(x, out, (ws, xi, o) -> Ss2dBlock.forwardHalf(dev, p, w, 0, xi, o, 0, (int) x.dim(0), (int) x.dim(2),
                    (int) x.dim(3), ws));
            return;
        }
        block(x, out, (ws, xi, o) -> Ss2dBlock.forward(dev, this::weight, this::negExpA, w, xi, o,
                (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), ws));
    }

    @Override
    public synchronized void vssBlock(VSSWeights w, Tensor x, Tensor out) {
        if (x.dtype().isHalf()) {
            Ss2dBlock.Half p = half(x.dtype());
            block(x, out, (ws, xi, o) -> Ss2dBlock.vssHalf(dev, p, w, xi, o, (int) x.dim(0), (int) x.dim(2),
                    (int) x.dim(3), ws));
            return;
        }
        block(x, out, (ws, xi, o) -> Ss2dBlock.vss(dev, this::weight, this::negExpA, w, xi, o,
                (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), ws));
    }

    private long negExpA(Tensor aLogs) {
        return negExpA.get(aLogs).address();
    }

    private interface BlockSteps {
        void run(Workspace ws, long x, long out);
    }

    /**
     * A block on x -> out with its intermediates in the scratch arena: on device tensors with cached
     * weights it returns with the work queued (no allocation, no sync); host tensors or weight uploads
     * make it wait before returning, as the memory they read must stay put until then.
     */
    private void block(Tensor x, Tensor out, BlockSteps steps) {
        dev.makeCurrent();
        try (Workspace ws = new Workspace(dev, scratchArena)) {
            long uploads = weights.uploads() + negExpA.uploads() + halfUploads();
            long xi = staging.input(x, ws), o = staging.output(out, ws);
            steps.run(ws, xi, o);
            staging.finish(out, o);
            if (weights.uploads() + negExpA.uploads() + halfUploads() != uploads) ws.hostTransfer();
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

    /** Bytes of device scratch the blocks keep between calls (counted in {@link CudaDiagnostics#liveDeviceBytes}). */
    public synchronized long scratchBytes() {
        return scratchArena.capacity();
    }

    /**
     * A whole VMamba model on this device ({@link CudaVMamba}): its weights are uploaded now, once; calls run
     * device-resident with their activations in arenas the model keeps. d_state above {@link ScanParams#MAX_DSTATE}
     * is a LimitExceededException naming it.
     */
    @Override
    public synchronized org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights) {
        int n = weights.config().dState();
        if (n > ScanParams.MAX_DSTATE) {
            throw new org.ss2d.validate.LimitExceededException("d_state", "d_state=" + n
                    + " exceeds the CUDA backend's MAX_DSTATE=" + ScanParams.MAX_DSTATE);
        }
        dev.makeCurrent();
        return new CudaVMamba(this, dev, weights);
    }

    /** A model with 16-bit activations: its converted weights uploaded rounded and in 16 bits, once ({@link CudaVMamba}). */
    @Override
    public synchronized org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights, DType dtype) {
        if (dtype == DType.F32) return prepareModel(weights);
        int n = weights.config().dState();
        if (n > ScanParams.MAX_DSTATE) {
            throw new org.ss2d.validate.LimitExceededException("d_state", "d_state=" + n
                    + " exceeds the CUDA backend's MAX_DSTATE=" + ScanParams.MAX_DSTATE);
        }
        dev.makeCurrent();
        return new CudaVMamba(this, dev, weights, dtype);
    }

    @Override
    public java.util.OptionalLong peakDeviceBytes() {
        return java.util.OptionalLong.of(dev.peakBytes.get());
    }

    @Override
    public void resetPeakDeviceBytes() {
        dev.resetPeak();
    }

    @Override
    public void synchronize() {
        dev.makeCurrent();
        dev.synchronize();
    }

    /**
     * The block's intermediates beyond what the scratch arena already holds: the arena is allocated (so not in the
     * free memory the budget is), and pieces that do not fit in it are allocated for the call.
     */
    @Override
    public long blockWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h, long w) {
        long need = Ss2dBlock.workspaceBytes(config, mlpRatio, batch, org.ss2d.validate.MemoryBudget.product(h, w));
        return Math.max(0, need - scratchBytes());
    }

    /** As above; a block with 16-bit activations adds the scan's float32 copies ({@link Ss2dBlock#workspaceBytesHalf}). */
    @Override
    public long blockWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h, long w,
                                  DType dtype) {
        if (dtype == DType.F32) return blockWorkingBytes(config, mlpRatio, batch, h, w);
        long need = Ss2dBlock.workspaceBytesHalf(config, mlpRatio, batch, org.ss2d.validate.MemoryBudget.product(h, w));
        return Math.max(0, need - scratchBytes());
    }

    /** Host tensors are uploaded into (or downloaded from) device buffers of the op's size ({@link HostStaging}). */
    @Override
    public long stagingBytes(Tensor... tensors) {
        long bytes = 0;
        for (Tensor t : tensors) {
            if (t != null && t.isHost()) bytes = org.ss2d.validate.MemoryBudget.saturatingAdd(bytes, t.byteSize());
        }
        return bytes;
    }

    /**
     * The device's free memory ({@code cuMemGetInfo}), unless {@code -Dss2d.max-bytes} is set: an op whose outputs
     * need more is a LimitExceededException before anything is allocated or launched, and {@code auto} moves on.
     */
    @Override
    public long memoryBudget() {
        long set = org.ss2d.validate.MemoryBudget.configured();
        if (set >= 0) return set;
        // cuMemGetInfo costs ~10 us, more than the host part of a scan: asked at most once per FREE_MEMORY_TTL_NS,
        // and in between the answer follows this backend's own allocations and frees. Memory taken by other
        // processes meanwhile is seen at the next query (until then an op that no longer fits fails in cuMemAlloc,
        // a CudaOutOfMemoryException, instead of being refused here).
        FreeMemory f = freeMemory;
        long now = System.nanoTime();
        if (f == null || now - f.atNanos() > FREE_MEMORY_TTL_NS) {
            long live = dev.liveBytes.get();
            f = new FreeMemory(diagnostics.deviceMemoryInfo()[0], live, now);
            freeMemory = f;
        }
        return Math.max(0, f.free() - (dev.liveBytes.get() - f.live()));
    }

    /** How long a cuMemGetInfo answer serves {@link #memoryBudget()}. */
    static final long FREE_MEMORY_TTL_NS = 1_000_000_000L;

    /** A cuMemGetInfo answer, with this backend's live device bytes and the time when it was asked. */
    private record FreeMemory(long free, long live, long atNanos) {}

    private volatile FreeMemory freeMemory;

    /** The device, for tests that launch a kernel directly. */
    CudaDevice device() {
        return dev;
    }

    /** Tools for tests and benchmarks: memory counts, poison, event timing, kernel choice. */
    public CudaDiagnostics diagnostics() {
        return diagnostics;
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

    /** Copy bandwidth and cuBLAS rates of this device in the mode in use ({@link RateProbe}); about a second. */
    @Override
    public synchronized java.util.Optional<org.ss2d.spi.DeviceRates> measureRates(DType dtype,
            java.util.Map<org.ss2d.ops.GemmShape, Integer> modelGemms) {
        dev.makeCurrent();
        return java.util.Optional.of(RateProbe.measure(dev, dtype, modelGemms));
    }

    @Override
    public java.util.OptionalDouble deviceTimeMs(Runnable op, int warmup, int reps) {
        return java.util.OptionalDouble.of(diagnostics.timeMs(op, warmup, reps));
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
        java.util.List<WeightCache<DeviceBuffer>> caches = new java.util.ArrayList<>(java.util.List.of(weights, negExpA));
        caches.addAll(halfMatrices.values());
        caches.addAll(roundedWeights.values());
        for (WeightCache<DeviceBuffer> c : caches) {
            try {
                c.clear();
            } catch (RuntimeException e) {
                if (failure == null) failure = e; else failure.addSuppressed(e);
            }
        }
        try {
            dev.close();
        } catch (RuntimeException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        if (failure != null) throw failure;
    }
}
