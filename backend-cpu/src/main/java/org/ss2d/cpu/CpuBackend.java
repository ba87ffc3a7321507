package org.ss2d.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.ss2d.cpu.StepProfile.Step;
import org.ss2d.cpu.kernel.HalfScan;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.cpu.kernel.ScanBackwardJob;
import org.ss2d.cpu.kernel.ScanJob;
import org.ss2d.model.HalfWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.MemoryBudget;

/**
 * The CPU backend: host tensors read and written in place (Arrow memory seen as segments), kernels
 * from {@link Kernels#get()} (Vector API or scalar), work spread over the backend's own {@link CpuPool}.
 * Inputs were validated by the facade. Block intermediates live in a {@link Workspace} kept between
 * calls (one spare per backend; freed by {@link #close()}).
 */
public final class CpuBackend implements Backend, AutoCloseable {
    public static final String NAME = "cpu";
    private static final float LN_EPS = 1e-5f;

    final Kernels kernels;
    final CpuPool pool;
    final Workspace.Pool workspaces = new Workspace.Pool();
    volatile StepProfile profile;

    /** A backend with {@code threads} workers and the process-wide kernels. */
    public CpuBackend(int threads) {
        this(threads, Kernels.get());
    }

    /** A backend with explicit kernels (tests compare the scalar and SIMD ones in one JVM). */
    public CpuBackend(int threads, Kernels kernels) {
        this.kernels = kernels;
        this.pool = new CpuPool(threads);
    }

    /** {@code -Dss2d.cpu.threads}, else the available processors. */
    public static int defaultThreads() {
        String p = System.getProperty("ss2d.cpu.threads");
        if (p == null || p.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(p.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("-Dss2d.cpu.threads=" + p + ": expected an integer >= 1");
    }

    public Kernels kernels() {
        return kernels;
    }

    public int threads() {
        return pool.threads();
    }

    /**
     * Wall time per block step, from {@link System#nanoTime()} between the steps while {@code op} runs
     * {@code runs} times. One profile at a time per backend.
     */
    @Override
    public synchronized Map<String, Double> profileSteps(Runnable op, int runs) {
        StepProfile p = new StepProfile();
        profile = p;
        try {
            for (int i = 0; i < runs; i++) op.run();
        } finally {
            profile = null;
        }
        Map<String, Double> ms = new LinkedHashMap<>();
        for (var e : p.snapshot().entrySet()) {
            ms.put(e.getKey().name().toLowerCase(Locale.ROOT), e.getValue() / 1e6 / runs);
        }
        return ms;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32, DType.F16, DType.BF16), false,
                pool.threads() + " threads, " + kernels.name() + " kernels", 0, false, pool.threads(),
                Set.of(DType.F32, DType.F16, DType.BF16));
    }

    @Override
    public org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights) {
        return new CpuVMamba(this, weights, DType.F32);
    }

    /** A half model rounds its weights once, here, and its activations at the step boundaries ({@link HalfSteps}). */
    @Override
    public org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights, DType dtype) {
        return new CpuVMamba(this, weights, dtype);
    }

    @Override
    public void close() {
        pool.close();
        workspaces.close();
    }

    // ------------------------------------------------------------------ selective scan

    @Override
    public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
        ScanJob job = ScanJob.of(args, shape, out, lastState);
        DType in = args.u().dtype();
        if (in == DType.F32) {
            scan(job);
        } else {
            boolean outHalf = out.dtype() != DType.F32;
            rows(job, (from, to) -> kernels.scanHalf(job, in, outHalf, from, to));
        }
    }

    /** Runs a scan job over the pool (also used by the SS2D block on its own buffers). */
    public void scan(ScanJob job) {
        rows(job, (from, to) -> kernels.scan(job, from, to));
    }

    private interface RowRange {
        void run(int from, int to);
    }

    private void rows(ScanJob job, RowRange work) {
        int align = kernels.scanRowAlign(job);
        int units = (job.rows() + align - 1) / align;
        // several tasks per thread so that uneven rows (and a busy core) balance out
        int tasks = Math.min(units, pool.threads() == 1 ? 1 : pool.threads() * 8);
        pool.parallelFor(tasks, t -> {
            int from = (int) ((long) units * t / tasks) * align, to = (int) Math.min((long) units * (t + 1) / tasks * align, job.rows());
            work.run(from, to);
        });
    }

    // ------------------------------------------------------------------ selective scan backward

    /**
     * Scan backward, deterministic whatever the thread count: the rows that share a variable B/C row (one batch
     * and group) form one task, run in channel order, so dB/dC sum in a fixed order; each row leaves its sums over
     * time (dA, dD, dDeltaBias, constant dB/dC) in its own slot, added over the batch in order at the end. Nothing
     * from the forward is used: the states are recomputed ({@link org.ss2d.cpu.kernel.ScalarScanBackward}).
     */
    @Override
    public void selectiveScanBackward(ScanArgs args, ScanShape s, Tensor dout, Tensor dLastState,
                                      org.ss2d.ops.ScanGrads grads) {
        ScanJob fwd = ScanJob.of(args, s, null, null);
        boolean bVar = s.bMode() != BCMode.CONSTANT, cVar = s.cMode() != BCMode.CONSTANT;
        int stride = ScanBackwardJob.partialStride(s.dstate());
        double[] partials = new double[Math.multiplyExact(s.batch() * s.dim(), stride)];
        ScanBackwardJob job = new ScanBackwardJob(fwd, dout.segment(), dLastState == null ? null : dLastState.segment(),
                grads.du().segment(), grads.dDelta().segment(), bVar ? grads.dB().segment() : null,
                cVar ? grads.dC().segment() : null, grads.dz() == null ? null : grads.dz().segment(), partials);
        if (bVar) grads.dB().segment().fill((byte) 0);
        if (cVar) grads.dC().segment().fill((byte) 0);
        // a task = the channels of one (batch, group) when some B/C row is shared; else one batch's channels when
        // the kernel works on blocks of channels (a row's kernel then never depends on where a task starts), else a row
        int perTask = bVar || cVar ? s.dim() / s.groups() : kernels.scanBackwardRowAlign(job) > 1 ? s.dim() : 1;
        int rows = s.batch() * s.dim(), units = (rows + perTask - 1) / perTask;
        int tasks = Math.min(units, pool.threads() == 1 ? 1 : pool.threads() * 8);
        pool.parallelFor(tasks, t -> {
            int from = (int) ((long) units * t / tasks) * perTask;
            int to = (int) Math.min((long) units * (t + 1) / tasks * perTask, rows);
            kernels.scanBackward(job, from, to);
        });
        reduceOverBatch(s, partials, stride, grads, bVar, cVar);
    }

    /** Row sums added over the batch, b = 0, 1, ... for every channel: the one order, whatever ran where. */
    private static void reduceOverBatch(ScanShape s, double[] partials, int stride, org.ss2d.ops.ScanGrads grads,
                                        boolean bVar, boolean cVar) {
        int n = s.dstate(), dim = s.dim();
        MemorySegment dA = grads.dA().segment();
        MemorySegment dB = bVar ? null : grads.dB().segment(), dC = cVar ? null : grads.dC().segment();
        MemorySegment dD = grads.dD() == null ? null : grads.dD().segment();
        MemorySegment dBias = grads.dDeltaBias() == null ? null : grads.dDeltaBias().segment();
        double[] acc = new double[stride];
        for (int d = 0; d < dim; d++) {
            java.util.Arrays.fill(acc, 0.0);
            for (int b = 0; b < s.batch(); b++) {
                int p = (b * dim + d) * stride;
                for (int k = 0; k < stride; k++) acc[k] += partials[p + k];
            }
            for (int k = 0; k < n; k++) {
                long i = (long) d * n + k;
                dA.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) acc[k]);
                if (dB != null) dB.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) acc[n + k]);
                if (dC != null) dC.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) acc[2 * n + k]);
            }
            if (dD != null) dD.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, d, (float) acc[3 * n]);
            if (dBias != null) dBias.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, d, (float) acc[3 * n + 1]);
        }
    }

    /** {@link CpuBlockBackward}: the forward recomputed, undone step by step, the scan through this backend. */
    @Override
    public void ss2dBackward(SS2DWeights weights, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        new CpuBlockBackward(this).ss2d(weights, x, dout, grads);
    }

    @Override
    public void vssBlockBackward(VSSWeights weights, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        new CpuBlockBackward(this).vss(weights, x, dout, grads);
    }

    /**
     * One image's intermediates on the heap (about twelve arrays of 4 x d_inner x pixels floats, the MLP's hidden
     * ones for VSS), plus the scan backward's working memory; saturates instead of overflowing.
     */
    @Override
    public long blockBackwardWorkingBytes(SS2DConfig c, double mlpRatio, long batch, long h, long w) {
        if (c == null) return 0;
        long l = MemoryBudget.product(h, w);
        long big = MemoryBudget.product(4, c.dInner(), l, 4);
        long mlp = mlpRatio > 0 ? MemoryBudget.product(VSSWeights.hidden(c, mlpRatio), l, 4, 4) : 0;
        long scan = scanBackwardWorkingBytes(new ScanShape(1, 4 * c.dInner(), (int) Math.min(l, Integer.MAX_VALUE),
                c.dState(), 4, BCMode.GROUPED, BCMode.GROUPED));
        return MemoryBudget.product(12, big) + mlp + scan;
    }

    /** Per-thread row buffers plus the per-row sums (doubles, one slot per row). */
    @Override
    public long scanBackwardWorkingBytes(ScanShape s) {
        long partials = MemoryBudget.product((long) s.batch() * s.dim(), 8L * ScanBackwardJob.partialStride(s.dstate()));
        return MemoryBudget.product(threads(), kernels.scanBackwardScratchBytes(s.seqlen(), s.dstate())) + partials;
    }

    // ------------------------------------------------------------------ cross scan / merge

    @Override
    public void crossScan(Tensor x, Tensor out) {
        int b = (int) x.dim(0), c = (int) x.dim(1), h = (int) x.dim(2), w = (int) x.dim(3);
        crossScan(x.segment(), 0, out.segment(), 0, b, c, h, w, (long) c * h * w);
    }

    private void crossScan(MemorySegment x, long xOff, MemorySegment xs, long xsOff, int b, int c, int h, int w,
                           long xBatchStride) {
        long l = (long) h * w;
        pool.parallelFor(b * c, i -> {
            int bi = i / c, ci = i % c;
            long r = xsOff + ((long) bi * 4 * c + ci) * l;
            kernels.crossScanPlane(x, xOff + bi * xBatchStride + ci * l, h, w, xs, r, r + c * l, r + 2 * c * l, r + 3 * c * l);
        });
    }

    @Override
    public void crossMerge(Tensor ys, Tensor out) {
        int b = (int) ys.dim(0), c = (int) ys.dim(2), h = (int) out.dim(2), w = (int) out.dim(3);
        crossMerge(ys.segment(), 0, out.segment(), 0, b, c, h, w);
    }

    private void crossMerge(MemorySegment ys, long ysOff, MemorySegment out, long outOff, int b, int c, int h, int w) {
        long l = (long) h * w;
        pool.parallelFor(b * c, i -> {
            int bi = i / c, ci = i % c;
            long r = ysOff + ((long) bi * 4 * c + ci) * l;
            kernels.crossMergePlane(ys, r, r + c * l, r + 2 * c * l, r + 3 * c * l, h, w, out, outOff + ((long) bi * c + ci) * l);
        });
    }

    // ------------------------------------------------------------------ blocks

    /**
     * In a half dtype (x's): the weights rounded per call ({@link HalfWeights}; a model rounds them once), x widened
     * into the workspace, the steps rounded as {@link HalfSteps} says, the result narrowed into out.
     */
    @Override
    public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
        int b = (int) x.dim(0), h = (int) x.dim(2), w = (int) x.dim(3);
        DType t = x.dtype();
        long n = x.elementCount();
        Workspace ws = workspaces.take(ss2dBytes(weights.config(), b, (long) h * w, false) + halfStaging(t, n));
        TensorScope converted = TensorScope.root("cpu-ss2d-" + t.arrowName() + "-weights");
        try {
            SS2DWeights wt = HalfWeights.rounded(converted, weights, t);
            MemorySegment xs = x.segment(), os = out.segment();
            if (t.isHalf()) {
                xs = ws.floats(n);
                os = ws.floats(n);
                HalfSteps.widen(this, t, x.segment(), xs, n);
            }
            ss2d(ws, wt, null, null, xs, os, null, b, h, w, t);
            if (t.isHalf()) HalfSteps.narrow(this, t, os, out.segment(), n);
        } finally {
            converted.release();
            workspaces.give(ws);
        }
    }

    /** The float32 copies of a half block's input and output (none in float32). */
    private static long halfStaging(DType t, long n) {
        return t.isHalf() ? Workspace.bytesFor(n, n) : 0;
    }

    static long ss2dBytes(SS2DConfig c, int b, long l, boolean zGate) {
        long di = c.dInner(), big = Math.multiplyExact(Math.multiplyExact((long) b * 4, di), l);
        return Workspace.bytesFor(Math.multiplyExact((long) b * di, l), big,
                Math.multiplyExact((long) b * 4 * c.xProjRows(), l), big, big, 4L * di * c.dState(),
                zGate ? (long) b * di * l : 0);
    }

    @Override
    public long scanWorkingBytes(ScanShape s) {
        return MemoryBudget.product(threads(), kernels.scanScratchBytes(s.dim(), s.groups(), s.dstate()));
    }

    /**
     * A half scan also keeps per-thread float32 buffers: {@link HalfScan}'s staged row blocks (scalar kernels, leftover
     * rows), counted whole; they bound the SIMD half kernels' chunk buffers and widened B/C rows as well.
     */
    @Override
    public long scanWorkingBytes(ScanShape s, DType input) {
        long f32 = scanWorkingBytes(s);
        if (input == DType.F32) return f32;
        int align = kernels.scanRowAlign(new ScanJob(null, null, null, null, s.bMode(), 0, 0, 0, 0, null, s.cMode(), 0, 0, 0, 0,
                null, null, null, false, null, null, s.batch(), s.dim(), s.seqlen(), s.dstate(), s.groups()));
        try {
            return Math.addExact(f32, Math.multiplyExact((long) threads(), HalfScan.stagingBytes(align, s.seqlen(), s.dstate())));
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The block workspace (see ss2d, vssBlock) plus the scan's per-thread scratch; saturates instead of overflowing. */
    @Override
    public long blockWorkingBytes(SS2DConfig c, double mlpRatio, long batch, long h, long w) {
        return blockWorkingBytes(c, mlpRatio, batch, h, w, DType.F32);
    }

    /** As above, plus a half block's float32 copies of its input and output ({@link #halfStaging}). */
    @Override
    public long blockWorkingBytes(SS2DConfig c, double mlpRatio, long batch, long h, long w, DType dtype) {
        try {
            int b = Math.toIntExact(batch);
            long l = Math.multiplyExact(h, w), bytes = ss2dBytes(c, b, l, false);
            if (mlpRatio > 0) {
                long hid = VSSWeights.hidden(c, mlpRatio);
                bytes = Math.addExact(bytes, Workspace.bytesFor(Math.multiplyExact(batch * c.dModel(), l),
                        Math.multiplyExact(Math.multiplyExact(batch, hid), l)));
            }
            long scratch = MemoryBudget.product(threads(),
                    kernels.scanScratchBytes(SS2DConfig.ROUTES * c.dInner(), SS2DConfig.ROUTES, c.dState()));
            bytes = Math.addExact(bytes, halfStaging(dtype, Math.multiplyExact(batch * c.dModel(), l)));
            return MemoryBudget.saturatingAdd(bytes, scratch);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** In a half dtype as {@link #ss2d(SS2DWeights, Tensor, Tensor)}: every step's result rounded ({@link HalfSteps}). */
    @Override
    public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
        SS2DConfig c = weights.config();
        int b = (int) x.dim(0), h = (int) x.dim(2), w = (int) x.dim(3), dm = c.dModel(), hid = VSSWeights.hidden(c, weights.mlpRatio());
        long l = (long) h * w, n = x.elementCount();
        DType t = x.dtype();
        MemorySegment xs = x.segment(), os = out.segment();
        Workspace ws = workspaces.take(Workspace.bytesFor((long) b * dm * l, (long) b * hid * l) + ss2dBytes(c, b, l, false)
                + halfStaging(t, n));
        TensorScope converted = TensorScope.root("cpu-vss-" + t.arrowName() + "-weights");
        try {
            VSSWeights wt = HalfWeights.rounded(converted, weights, t);
            if (t.isHalf()) {
                xs = ws.floats(n);
                os = ws.floats(n);
                HalfSteps.widen(this, t, x.segment(), xs, n);
            }
            MemorySegment ln = ws.floats((long) b * dm * l);
            long t0 = System.nanoTime();
            layerNorm(xs, ln, b, dm, l, wt.normWeight().segment(), wt.normBias().segment());
            HalfSteps.round(this, t, ln, n);
            t0 = mark(Step.NORM_IN, t0);
            // out = x + SS2D(LN(x)): the residual rides on out_proj's store
            ss2d(ws, wt.op(), null, null, ln, os, xs, b, h, w, t);
            t0 = System.nanoTime();
            layerNorm(os, ln, b, dm, l, wt.norm2Weight().segment(), wt.norm2Bias().segment());
            HalfSteps.round(this, t, ln, n);
            t0 = mark(Step.NORM_IN, t0);
            MemorySegment hidden = ws.floats((long) b * hid * l);
            gemmBatched(wt.fc1Weight().segment(), 0, dm, ln, dm, hidden, hid, l, b, wt.fc1Bias().segment(),
                    Kernels.Activation.GELU, null);
            HalfSteps.round(this, t, hidden, (long) b * hid * l);
            // out += fc2(GELU(fc1(LN2(out)))) + bias: reads each residual element just before writing it
            gemmBatched(wt.fc2Weight().segment(), 0, hid, hidden, hid, os, dm, l, b, wt.fc2Bias().segment(),
                    Kernels.Activation.NONE, os);
            if (t.isHalf()) HalfSteps.narrow(this, t, os, out.segment(), n);
            mark(Step.MLP, t0);
        } finally {
            converted.release();
            workspaces.give(ws);
        }
    }

    /**
     * SS2D v05_noz forward (spec 5.3) on segments: {@code x, out (b, d_model, h*w)}; {@code residual}
     * (same shape) is added to out_proj's result when not null. With {@code zProj} (the z rows of a v0
     * in_proj, {@code (d_inner, d_model)}) it is VMamba's v0 SS2D: {@code out_proj(LN(y) * silu(z))}.
     */
    void ss2d(Workspace ws, SS2DWeights wt, MemorySegment zProj, MemorySegment x, MemorySegment out,
              MemorySegment residual, int b, int h, int w) {
        ss2d(ws, wt, zProj, null, x, out, residual, b, h, w, DType.F32);
    }

    /** The projections' weights packed once for the GEMM (a model's), or nulls to pack them per call. */
    record PackedSS2D(Object inProj, Object zProj, Object[] xProj, Object outProj) {
        static PackedSS2D of(Kernels k, SS2DWeights wt, MemorySegment zProj) {
            SS2DConfig c = wt.config();
            int dm = c.dModel(), di = c.dInner(), rows = c.xProjRows();
            Object[] xp = new Object[SS2DConfig.ROUTES];
            for (int r = 0; r < xp.length; r++) xp[r] = k.packWeights(wt.xProjWeight().segment(), (long) r * rows * di, di, rows, di);
            return new PackedSS2D(k.packWeights(wt.inProjWeight().segment(), 0, dm, di, dm),
                    zProj == null ? null : k.packWeights(zProj, 0, dm, di, dm), xp,
                    k.packWeights(wt.outProjWeight().segment(), 0, di, dm, di));
        }
    }

    /**
     * As above with the weights packed ({@code pk}, or null) and activations of {@code act}: in a half dtype each
     * step's result is rounded to it (in_proj and z; conv + SiLU; x_proj before dt_proj reads it; dt_proj; the
     * LayerNorm and the z gate; out with its residual), the scan's output and the merge staying float32.
     */
    void ss2d(Workspace ws, SS2DWeights wt, MemorySegment zProj, PackedSS2D pk, MemorySegment x, MemorySegment out,
              MemorySegment residual, int b, int h, int w, DType act) {
        SS2DConfig c = wt.config();
        final int dm = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank(), k = c.dConv(), rows = c.xProjRows();
        final long l = (long) h * w, routeStride = (long) di * l;
        MemorySegment xi = ws.floats((long) b * di * l);
        MemorySegment xs = ws.floats((long) b * 4 * di * l);
        MemorySegment xdbl = ws.floats((long) b * 4 * rows * l);
        MemorySegment dts = ws.floats((long) b * 4 * di * l);
        MemorySegment ys = ws.floats((long) b * 4 * di * l);
        MemorySegment a = ws.floats(4L * di * n);
        MemorySegment z = zProj == null ? null : ws.floats((long) b * di * l);
        MemorySegment aLogs = wt.aLogs().segment();
        for (long i = 0; i < 4L * di * n; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) -Math.exp(aLogs.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i)));
        }

        long t0 = System.nanoTime();
        gemmBatched(pk == null ? null : pk.inProj(), wt.inProjWeight().segment(), 0, dm, x, dm, xi, di, l, b, null,
                Kernels.Activation.NONE, null);
        HalfSteps.round(this, act, xi, (long) b * di * l);
        if (z != null) {
            gemmBatched(pk == null ? null : pk.zProj(), zProj, 0, dm, x, dm, z, di, l, b, null, Kernels.Activation.NONE, null);
            HalfSteps.round(this, act, z, (long) b * di * l);
        }
        t0 = mark(Step.IN_PROJ, t0);

        // depthwise conv + SiLU straight into route 0 of xs, then the other routes from it, per plane
        MemorySegment convW = wt.conv2dWeight().segment();
        MemorySegment convB = wt.conv2dBias() == null ? null : wt.conv2dBias().segment();
        pool.parallelFor(b * di, i -> {
            int bi = i / di, ci = i % di;
            long src = ((long) bi * di + ci) * l, r0 = ((long) bi * 4 * di + ci) * l;
            float bias = convB == null ? 0f : convB.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, ci);
            kernels.depthwiseConvSilu(xi, src, xs, r0, h, w, convW, (long) ci * k * k, k, bias);
            HalfSteps.roundSpan(kernels, act, xs, r0, l);
        });
        t0 = mark(Step.CONV_SILU, t0);
        pool.parallelFor(b * di, i -> {
            int bi = i / di, ci = i % di;
            long r0 = ((long) bi * 4 * di + ci) * l;
            kernels.crossScanPlane(xs, r0, h, w, xs, r0, r0 + routeStride, r0 + 2 * routeStride, r0 + 3 * routeStride);
        });
        t0 = mark(Step.CROSS_SCAN, t0);

        // x_proj then dt_proj on the same column tile, while it is in cache
        MemorySegment xw = wt.xProjWeight().segment(), dtw = wt.dtProjsWeight().segment();
        int tile = colTile(), tilesPerRoute = (int) ((l + tile - 1) / tile);
        pool.parallelFor(b * 4 * tilesPerRoute, i -> {
            int bk = i / tilesPerRoute, p0 = (i % tilesPerRoute) * tile, p1 = (int) Math.min(l, p0 + (long) tile);
            int kr = bk % 4;
            long xsOff = (long) bk * di * l, dblOff = (long) bk * rows * l;
            kernels.gemmPacked(pk == null ? null : pk.xProj()[kr], xw, (long) kr * rows * di, di, xs, xsOff, (int) l, xdbl,
                    dblOff, (int) l, di, 0, rows, p0, p1, null, 0, Kernels.Activation.NONE, null, 0);
            HalfSteps.roundRows(kernels, act, xdbl, dblOff, rows, l, p0, p1); // dt_proj reads the stored x_dbl
            kernels.gemm(dtw, (long) kr * di * r, r, xdbl, dblOff, (int) l, dts, xsOff, (int) l, r, 0, di, p0, p1,
                    null, 0, Kernels.Activation.NONE, null, 0);
            HalfSteps.roundRows(kernels, act, dts, xsOff, di, l, p0, p1);
        });
        t0 = mark(Step.X_DT_PROJ, t0);

        // the scan sees routes as groups: u = xs (b, 4*di, l), B/C point into x_dbl rows r.. and r+n..
        long dblBatch = 4L * rows * l, dblRoute = (long) rows * l;
        ScanJob job = new ScanJob(xs, dts, a,
                xdbl, BCMode.GROUPED, (long) r * l, dblBatch, dblRoute, l,
                xdbl, BCMode.GROUPED, (long) (r + n) * l, dblBatch, dblRoute, l,
                wt.ds().segment(), wt.dtProjsBias().segment(), null, true, ys, null,
                b, 4 * di, (int) l, n, 4);
        scan(job);
        t0 = mark(Step.SCAN, t0);

        MemorySegment ym = xi; // in_proj's output is dead after the conv: reuse it for the merged y
        crossMerge(ys, 0, ym, 0, b, di, h, w);
        t0 = mark(Step.CROSS_MERGE, t0);
        layerNorm(ym, ym, b, di, l, wt.outNormWeight().segment(), wt.outNormBias().segment());
        HalfSteps.round(this, act, ym, (long) b * di * l);
        if (z != null) {
            long per = (long) di * l, chunk = 4096, chunks = (per + chunk - 1) / chunk;
            pool.parallelFor((int) (b * chunks), i -> {
                long off = (i / chunks) * per + (i % chunks) * chunk;
                long len = Math.min(chunk, per - (i % chunks) * chunk);
                kernels.mulSilu(ym, off, z, off, len);
                HalfSteps.roundSpan(kernels, act, ym, off, len);
            });
        }
        t0 = mark(Step.NORM_OUT, t0);
        gemmBatched(pk == null ? null : pk.outProj(), wt.outProjWeight().segment(), 0, di, ym, di, out, dm, l, b, null,
                Kernels.Activation.NONE, residual);
        HalfSteps.round(this, act, out, (long) b * dm * l);
        mark(Step.OUT_PROJ, t0);
    }

    long mark(Step s, long t0) {
        StepProfile p = profile;
        long now = System.nanoTime();
        if (p != null) p.add(s, now - t0);
        return now;
    }

    /** Columns per GEMM task: a multiple of the register tile, small enough to balance over threads. */
    private int colTile() {
        return Math.max(48, kernels.lanes() * 3 * 4);
    }

    /** {@code out[bi] = W (m x k) @ in[bi] (k x l)} for every image, tiled over columns. */
    void gemmBatched(MemorySegment wgt, long wOff, int k, MemorySegment in, int kIn, MemorySegment out, int m,
                             long l, int b, MemorySegment bias, Kernels.Activation act, MemorySegment residual) {
        gemmBatched(null, wgt, wOff, k, in, kIn, out, m, l, b, bias, act, residual);
    }

    /** As above with the weights packed once ({@link Kernels#packWeights}; null packs per call). */
    void gemmBatched(Object packed, MemorySegment wgt, long wOff, int k, MemorySegment in, int kIn, MemorySegment out,
                     int m, long l, int b, MemorySegment bias, Kernels.Activation act, MemorySegment residual) {
        assert k == kIn;
        int tile = colTile(), tiles = (int) ((l + tile - 1) / tile);
        // Few column tiles (a small map late in a model, one image): split the rows too, in multiples of 16,
        // so that every thread gets work; otherwise one task per column tile, all rows.
        int perImage = b * tiles, want = pool.threads() * 4;
        int rowParts = perImage >= want || pool.threads() == 1 ? 1 : Math.min((m + 15) / 16, (want + perImage - 1) / perImage);
        int rowStep = ((m + rowParts - 1) / rowParts + 15) / 16 * 16;
        int parts = (m + rowStep - 1) / rowStep;
        pool.parallelFor(perImage * parts, i -> {
            int part = i % parts, t = i / parts;
            int bi = t / tiles, p0 = (t % tiles) * tile, p1 = (int) Math.min(l, p0 + (long) tile);
            int m0 = part * rowStep, m1 = Math.min(m, m0 + rowStep);
            long inOff = (long) bi * k * l, outOff = (long) bi * m * l;
            kernels.gemmPacked(packed, wgt, wOff, k, in, inOff, (int) l, out, outOff, (int) l, k, m0, m1, p0, p1, bias, 0,
                    act, residual, outOff);
        });
    }

    void layerNorm(MemorySegment in, MemorySegment out, int b, int channels, long l, MemorySegment gamma,
                           MemorySegment beta) {
        int tile = Math.max(16, kernels.lanes() * 4), tiles = (int) ((l + tile - 1) / tile);
        pool.parallelFor(b * tiles, i -> {
            int bi = i / tiles, p0 = (i % tiles) * tile, p1 = (int) Math.min(l, p0 + (long) tile);
            long off = (long) bi * channels * l;
            kernels.layerNormChannels(in, off, out, off, channels, (int) l, p0, p1, gamma, beta, LN_EPS);
        });
    }

}
