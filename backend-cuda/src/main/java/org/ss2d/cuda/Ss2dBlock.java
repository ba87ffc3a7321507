package org.ss2d.cuda;

import java.util.function.ToLongFunction;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.Tensor;

/**
 * The SS2D (v05_noz, channels-first) and VSS blocks on the device, every step on one stream and
 * every intermediate in device memory (spec 5.3):
 * in_proj (cuBLAS) -> depthwise conv + SiLU -> CrossScan -> x_proj per route (cuBLAS) -> dt_proj per
 * route (cuBLAS) -> selective scan (groups = routes, softplus, delta_bias, D) -> CrossMerge ->
 * LayerNorm2d -> out_proj (cuBLAS). B and C are read in place from x_proj's output (grouped
 * layout with the route as group), so nothing is split or copied. At d_state 1 without the z gate the middle
 * (CrossScan to CrossMerge) runs fused instead ({@link FusedScan}, {@code fused_scan.cuh}): one stacked x_proj GEMM
 * and one kernel, none of the per-route maps materialised.
 */
final class Ss2dBlock {
    private Ss2dBlock() {}

    /**
     * Device bytes of the intermediates {@link #forward} ({@code mlpRatio} 0) or {@link #vss} takes from its workspace
     * over {@code batch x len} pixels, each piece aligned as the arena aligns it: {@link #ss2dBytes} or
     * {@link #residualBytes} without the z gate (the facade's blocks are v05_noz), saturated instead of overflowing
     * for the memory-budget check. A new {@code ws.floats} in the block code must be counted there.
     */
    static long workspaceBytes(SS2DConfig c, double mlpRatio, long batch, long len) {
        try {
            return mlpRatio > 0 ? residualBytes(c, false, VSSWeights.hidden(c, mlpRatio), batch, len)
                    : ss2dBytes(c, false, batch, len);
        } catch (ArithmeticException tooBig) {
            return Long.MAX_VALUE; // the budget check then names the op as over any budget
        }
    }

    static void forward(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, SS2DWeights w,
                        long x, long out, int batch, int h, int wd, Workspace ws) {
        forward(dev, weight, negExpA, w, 0, x, out, batch, h, wd, ws);
    }

    /**
     * As above; with {@code zProj != 0} (the device address of a v0 block's z rows of in_proj, the
     * {@code d_inner} rows after x's) the block is VMamba's v0 SS2D: {@code z = zProj . x} beside in_proj, and
     * {@code out_proj(out_norm(y) * SiLU(z))}. {@code w.inProjWeight()} may then have {@code 2 d_inner} rows:
     * only its first {@code d_inner} (x's) are read here.
     */
    static void forward(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, SS2DWeights w,
                        long zProj, long x, long out, int batch, int h, int wd, Workspace ws) {
        SS2DConfig c = w.config();
        int dm = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank();
        int len = h * wd;
        long plane = (long) di * len;

        long xi = ws.floats(batch * plane);
        Layers.linear(dev, weight.applyAsLong(w.inProjWeight()), di, dm, x, (long) dm * len, len, xi, plane, len, len,
                batch);
        long z = 0;
        if (zProj != 0) {
            z = ws.floats(batch * plane);
            Layers.linear(dev, zProj, di, dm, x, (long) dm * len, len, z, plane, len, len, batch);
        }
        dev.mark("in_proj");
        long xa = ws.floats(batch * plane);
        Layers.dwconv(dev, xi, weight.applyAsLong(w.conv2dWeight()), weight.applyAsLong(w.conv2dBias()), xa, batch, di,
                h, wd, c.dConv(), Layers.ACT_SILU);
        dev.mark("conv_silu");
        FusedScan.Plan fused = FusedScan.plan(FusedScan.enabled(), n, zProj != 0, false, h, wd, r, (long) batch * di,
                dev.sharedPerBlockOptin);
        if (fused.fused()) {
            fusedMiddle(dev, weight, negExpA, w, fused, xa, xi, batch, h, wd, ws);
        } else {
            unfusedMiddle(dev, weight, negExpA, w, xa, xi, batch, h, wd, ws);
        }
        long y = xi;  // the merged y took in_proj's output's place
        long yn = xa;
        Layers.layerNorm(dev, y, weight.applyAsLong(w.outNormWeight()), weight.applyAsLong(w.outNormBias()), yn, batch,
                di, len);
        if (z != 0) Layers.mulSilu(dev, yn, z, batch * plane);
        dev.mark("norm_out");
        Layers.linear(dev, weight.applyAsLong(w.outProjWeight()), dm, di, yn, plane, len, out, (long) dm * len, len,
                len, batch);
        dev.mark("out_proj");
    }

    /**
     * The block's middle as separate steps: CrossScan, x_proj and dt_proj per route, the scan (routes as groups),
     * CrossMerge into {@code y} (in_proj's output, dead by then). Every intermediate is materialised.
     */
    private static void unfusedMiddle(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA,
                                      SS2DWeights w, long xa, long y, int batch, int h, int wd, Workspace ws) {
        SS2DConfig c = w.config();
        int di = c.dInner(), n = c.dState(), r = c.dtRank(), rows = c.xProjRows();
        int len = h * wd;
        long plane = (long) di * len;
        final int routes = SS2DConfig.ROUTES;
        long xs = ws.floats(batch * routes * plane);
        Layers.crossScan(dev, xa, xs, batch, di, h, wd);
        dev.mark("cross_scan");

        long xdbl = ws.floats((long) batch * routes * rows * len);
        long dts = ws.floats(batch * routes * plane);
        long wx = weight.applyAsLong(w.xProjWeight()), wdt = weight.applyAsLong(w.dtProjsWeight());
        for (int k = 0; k < routes; k++) {
            long xdblK = xdbl + 4L * k * rows * len;
            Layers.linear(dev, wx + 4L * k * rows * di, rows, di, xs + 4L * k * plane, routes * plane, len,
                    xdblK, (long) routes * rows * len, len, len, batch);
            Layers.linear(dev, wdt + 4L * k * di * r, di, r, xdblK, (long) routes * rows * len, len,
                    dts + 4L * k * plane, routes * plane, len, len, batch);
        }
        dev.mark("x_dt_proj");

        long ys = ws.floats(batch * routes * plane);
        // routes are the scan's groups; B and C are read in place from x_dbl (batch, route, rows, L)
        long[] p = ScanParams.forShape(new ScanShape(batch, routes * di, len, n, routes, BCMode.GROUPED, BCMode.GROUPED),
                true);
        ScanParams.bcStrides(p, ScanParams.B_BATCH_STRIDE, (long) routes * rows * len, (long) rows * len, len);
        ScanParams.bcStrides(p, ScanParams.C_BATCH_STRIDE, (long) routes * rows * len, (long) rows * len, len);
        p[ScanParams.U] = xs;
        p[ScanParams.DELTA] = dts;
        p[ScanParams.A] = negExpA.applyAsLong(w.aLogs());
        p[ScanParams.B] = xdbl + 4L * r * len;
        p[ScanParams.C] = xdbl + 4L * (r + n) * len;
        p[ScanParams.D] = weight.applyAsLong(w.ds());
        p[ScanParams.DELTA_BIAS] = weight.applyAsLong(w.dtProjsBias());
        p[ScanParams.OUT] = ys;
        ScanLauncher.launch(dev, p);
        dev.mark("scan");
        Layers.crossMerge(dev, ys, y, batch, di, h, wd);
        dev.mark("cross_merge");
    }

    /**
     * The block's middle fused (d_state 1, v05_noz; {@link FusedScan#plan}): one x_proj GEMM with the four routes'
     * weights stacked, on the spatial-order map (route k's x_dbl at step t is W_k . x at its pixel, so every route's
     * rows come out in spatial order); the column routes' rows transposed (a small map); then one kernel per plane
     * runs dt_proj, the scan of each route and the merge, writing {@code y}. No CrossScan copy, dts or per-route y.
     */
    private static void fusedMiddle(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA,
                                    SS2DWeights w, FusedScan.Plan plan, long xa, long y, int batch, int h, int wd,
                                    Workspace ws) {
        SS2DConfig c = w.config();
        int di = c.dInner(), r = c.dtRank(), rows = c.xProjRows();
        int len = h * wd;
        final int routes = SS2DConfig.ROUTES;
        long xdbl = ws.floats((long) batch * routes * rows * len);
        Layers.linear(dev, weight.applyAsLong(w.xProjWeight()), routes * rows, di, xa, (long) di * len, len, xdbl,
                (long) routes * rows * len, len, len, batch);
        long xdblT = ws.floats((long) batch * 2 * rows * len);
        Layers.fusedTranspose(dev, xdbl, xdblT, batch, rows, h, wd);
        dev.mark("x_proj");
        if (!dev.ensureSharedMemory(plan.kernel(), dev.function(plan.kernel()), plan.sharedBytes())) {
            // FusedScan.plan keeps a warp's bytes within the opt-in limit: this is a broken invariant, not bad input
            throw new IllegalStateException(plan.kernel() + ": " + plan.sharedBytes() + " bytes of shared memory refused");
        }
        Layers.fusedScan(dev, plan, xa, xdbl, xdblT, weight.applyAsLong(w.dtProjsWeight()),
                weight.applyAsLong(w.dtProjsBias()), negExpA.applyAsLong(w.aLogs()), weight.applyAsLong(w.ds()), y,
                batch, di, h, wd, r);
        dev.mark("fused_scan");
    }

    /** {@code x1 = x + SS2D(LN(x)); out = x1 + fc2(GELU(fc1(LN2(x1))))}. */
    static void vss(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, VSSWeights w,
                    long x, long out, int batch, int h, int wd, Workspace ws) {
        residual(dev, weight, negExpA, w.op(), 0, w.normWeight(), w.normBias(), w.norm2Weight(), w.norm2Bias(),
                w.fc1Weight(), w.fc1Bias(), w.fc2Weight(), w.fc2Bias(), VSSWeights.hidden(w.config(), w.mlpRatio()), x,
                out, batch, h, wd, ws);
    }

    /**
     * A VSS block of a VMamba model: {@code x1 = x + SS2D(LN(x))} (v0 with {@code zProj != 0}, see
     * {@link #forward(CudaDevice, ToLongFunction, ToLongFunction, SS2DWeights, long, long, long, int, int, int,
     * Workspace)}), then {@code out = x1 + fc2(GELU(fc1(LN2(x1))))} when {@code hidden > 0}, else {@code out = x1}.
     * x and out are distinct.
     */
    static void residual(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, SS2DWeights op,
                         long zProj, Tensor normW, Tensor normB, Tensor norm2W, Tensor norm2B, Tensor fc1W, Tensor fc1B,
                         Tensor fc2W, Tensor fc2B, int hidden, long x, long out, int batch, int h, int wd,
                         Workspace ws) {
        int dm = op.config().dModel();
        int len = h * wd;
        long act = (long) dm * len;
        long xn = ws.floats(batch * act);
        Layers.layerNorm(dev, x, weight.applyAsLong(normW), weight.applyAsLong(normB), xn, batch, dm, len);
        dev.mark("norm_in");
        long s = ws.floats(batch * act);
        Workspace.Mark ss2dScratch = ws.mark();
        forward(dev, weight, negExpA, op, zProj, xn, s, batch, h, wd, ws);
        ws.rewind(ss2dScratch); // the SS2D's intermediates are dead: x1 and the MLP's hidden map take their place
        if (hidden == 0) {
            Layers.add(dev, x, s, out, batch * act);
            dev.mark("residual");
            return;
        }
        long x1 = ws.floats(batch * act);
        Layers.add(dev, x, s, x1, batch * act);
        dev.mark("residual");
        Layers.layerNorm(dev, x1, weight.applyAsLong(norm2W), weight.applyAsLong(norm2B), xn, batch, dm, len);
        dev.mark("norm2");
        long hid = ws.floats((long) batch * hidden * len);
        Layers.linear(dev, weight.applyAsLong(fc1W), hidden, dm, xn, act, len, hid, (long) hidden * len, len, len,
                batch);
        Layers.biasAct(dev, hid, weight.applyAsLong(fc1B), hid, batch, hidden, len, Layers.ACT_GELU);
        Layers.linear(dev, weight.applyAsLong(fc2W), dm, hidden, hid, (long) hidden * len, len, s, act, len, len,
                batch);
        Layers.biasAct(dev, s, weight.applyAsLong(fc2B), s, batch, dm, len, Layers.ACT_NONE);
        dev.mark("mlp");
        Layers.add(dev, x1, s, out, batch * act);
        dev.mark("residual");
    }

    // ------------------------------------------------------------------ 16-bit activations

    /**
     * Where a block with 16-bit activations ({@code kind} 1 float16, 2 bfloat16) finds its weights: the projections'
     * matrices converted to that type ({@code matrix}), the convolution's and the MLP's weights and biases as float32
     * holding values rounded to it ({@code rounded}, the layer kernels read float32 parameters), LayerNorm, Ds,
     * dt_projs_bias as given ({@code f32}), and {@code -exp(A_logs)}.
     */
    record Half(long kind, ToLongFunction<Tensor> matrix, ToLongFunction<Tensor> rounded, ToLongFunction<Tensor> f32,
                ToLongFunction<Tensor> negExpA) {}

    /** Bytes of {@code n} 16-bit elements from the workspace (whole floats, so the arena's alignment holds). */
    private static long halves(Workspace ws, long n) {
        return ws.floats((n + 1) / 2);
    }

    /**
     * The SS2D block with 16-bit activations (docs/models.md, "Half precision"): in_proj, conv + SiLU, the routes,
     * x_proj and dt_proj stored in 16 bits (cuBLAS with 16-bit inputs and float32 accumulation, the layer kernels
     * reading and writing 16 bits); the scan reads them as they are ({@link ScanLauncher#planHalf}'s
     * 16-bit kernel) or widened copies, and writes float32 (VMamba's out_float32), merged in float32; out_norm rounds into 16 bits, out_proj stores 16 bits, after adding
     * {@code residual} (16-bit, or 0) in float32 when there is one. {@code zProj} as in {@link #forward}.
     */
    static void forwardHalf(CudaDevice dev, Half p, SS2DWeights w, long zProj, long x, long out, long residual,
                            int batch, int h, int wd, Workspace ws) {
        SS2DConfig c = w.config();
        long kind = p.kind();
        int dm = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank(), rows = c.xProjRows();
        int len = h * wd;
        long plane = (long) di * len;
        final int routes = SS2DConfig.ROUTES;

        long xi = halves(ws, batch * plane);
        Layers.linearHalf(dev, kind, p.matrix().applyAsLong(w.inProjWeight()), di, dm, x, (long) dm * len, len, xi, false,
                plane, len, len, batch);
        long z = 0;
        if (zProj != 0) {
            z = halves(ws, batch * plane);
            Layers.linearHalf(dev, kind, zProj, di, dm, x, (long) dm * len, len, z, false, plane, len, len, batch);
        }
        dev.mark("in_proj");
        long xa = halves(ws, batch * plane);
        Layers.dwconvHalf(dev, kind, xi, p.rounded().applyAsLong(w.conv2dWeight()), p.rounded().applyAsLong(w.conv2dBias()),
                xa, batch, di, h, wd, c.dConv(), Layers.ACT_SILU);
        dev.mark("conv_silu");
        long xs = halves(ws, batch * routes * plane);
        Layers.crossScanHalf(dev, kind, xa, xs, batch, di, h, wd);
        dev.mark("cross_scan");

        long dblCount = (long) batch * routes * rows * len;
        long xdbl = halves(ws, dblCount);
        long dts = halves(ws, batch * routes * plane);
        long wx = p.matrix().applyAsLong(w.xProjWeight()), wdt = p.matrix().applyAsLong(w.dtProjsWeight());
        for (int k = 0; k < routes; k++) {
            long xdblK = xdbl + 2L * k * rows * len;
            Layers.linearHalf(dev, kind, wx + 2L * k * rows * di, rows, di, xs + 2L * k * plane, routes * plane, len,
                    xdblK, false, (long) routes * rows * len, len, len, batch);
            Layers.linearHalf(dev, kind, wdt + 2L * k * di * r, di, r, xdblK, (long) routes * rows * len, len,
                    dts + 2L * k * plane, false, routes * plane, len, len, batch);
        }
        dev.mark("x_dt_proj");

        // the scan reads u = xs, delta = dts and B, C in x_dbl as 16 bits (ScanLauncher.planHalf's kernel: every
        // d_state up to 64), else widened float32 copies (exact); it writes float32 either way (VMamba's out_float32)
        long ys = ws.floats(batch * routes * plane);
        long[] sp = ScanParams.forShape(new ScanShape(batch, routes * di, len, n, routes, BCMode.GROUPED, BCMode.GROUPED),
                true);
        ScanParams.bcStrides(sp, ScanParams.B_BATCH_STRIDE, (long) routes * rows * len, (long) rows * len, len);
        ScanParams.bcStrides(sp, ScanParams.C_BATCH_STRIDE, (long) routes * rows * len, (long) rows * len, len);
        sp[ScanParams.U] = xs;
        sp[ScanParams.DELTA] = dts;
        sp[ScanParams.A] = p.negExpA().applyAsLong(w.aLogs());
        sp[ScanParams.B] = xdbl + 2L * r * len;
        sp[ScanParams.C] = xdbl + 2L * (r + n) * len;
        sp[ScanParams.D] = p.f32().applyAsLong(w.ds());
        sp[ScanParams.DELTA_BIAS] = p.f32().applyAsLong(w.dtProjsBias());
        sp[ScanParams.OUT] = ys;
        long uF = ws.floats(batch * routes * plane), dtF = ws.floats(batch * routes * plane);
        if (!ScanLauncher.launchHalf(dev, sp, kind, false)) {
            long dblF = ws.floats(dblCount);
            Layers.halfToFloat(dev, xs, uF, batch * routes * plane, kind);
            Layers.halfToFloat(dev, dts, dtF, batch * routes * plane, kind);
            Layers.halfToFloat(dev, xdbl, dblF, dblCount, kind);
            sp[ScanParams.U] = uF;
            sp[ScanParams.DELTA] = dtF;
            sp[ScanParams.B] = dblF + 4L * r * len;
            sp[ScanParams.C] = dblF + 4L * (r + n) * len;
            ScanLauncher.launch(dev, sp);
        }
        dev.mark("scan");

        long y = uF; // float32 scratch the scan no longer needs: the merge takes it
        Layers.crossMerge(dev, ys, y, batch, di, h, wd);
        dev.mark("cross_merge");
        long yn = xa;
        Layers.layerNormHalf(dev, kind, true, y, 0, p.f32().applyAsLong(w.outNormWeight()),
                p.f32().applyAsLong(w.outNormBias()), yn, batch, di, len, Layers.ACT_NONE);
        if (z != 0) Layers.mulSiluHalf(dev, kind, yn, z, batch * plane);
        dev.mark("norm_out");
        long wo = p.matrix().applyAsLong(w.outProjWeight());
        if (residual == 0) {
            Layers.linearHalf(dev, kind, wo, dm, di, yn, plane, len, out, false, (long) dm * len, len, len, batch);
        } else {
            // out_proj's float32 result (in dt's free float32 scratch when it is large enough), then x + it, rounded once
            long s32 = (long) routes * di >= dm ? dtF : ws.floats((long) batch * dm * len);
            Layers.linearHalf(dev, kind, wo, dm, di, yn, plane, len, s32, true, (long) dm * len, len, len, batch);
            Layers.biasActRes(dev, kind, s32, 0, residual, out, batch, dm, len, Layers.ACT_NONE);
        }
        dev.mark("out_proj");
    }

    /** {@link #vss} with 16-bit activations. */
    static void vssHalf(CudaDevice dev, Half p, VSSWeights w, long x, long out, int batch, int h, int wd, Workspace ws) {
        residualHalf(dev, p, w.op(), 0, w.normWeight(), w.normBias(), w.norm2Weight(), w.norm2Bias(), w.fc1Weight(),
                w.fc1Bias(), w.fc2Weight(), w.fc2Bias(), VSSWeights.hidden(w.config(), w.mlpRatio()), x, out, batch, h,
                wd, ws);
    }

    /**
     * {@link #residual} with 16-bit activations: LN(x) and x1 = x + SS2D(.) stored in 16 bits, LN2(x1) too, fc1 into
     * float32 then bias + GELU rounded once, fc2 into float32 then bias + x1 rounded once into out.
     */
    static void residualHalf(CudaDevice dev, Half p, SS2DWeights op, long zProj, Tensor normW, Tensor normB,
                             Tensor norm2W, Tensor norm2B, Tensor fc1W, Tensor fc1B, Tensor fc2W, Tensor fc2B,
                             int hidden, long x, long out, int batch, int h, int wd, Workspace ws) {
        long kind = p.kind();
        int dm = op.config().dModel();
        int len = h * wd;
        long act = (long) dm * len;
        long xn = halves(ws, batch * act);
        Layers.layerNormHalf(dev, kind, false, x, 0, p.f32().applyAsLong(normW), p.f32().applyAsLong(normB), xn, batch,
                dm, len, Layers.ACT_NONE);
        dev.mark("norm_in");
        if (hidden == 0) {
            forwardHalf(dev, p, op, zProj, xn, out, x, batch, h, wd, ws);
            return;
        }
        long x1 = halves(ws, batch * act);
        Workspace.Mark ss2dScratch = ws.mark();
        forwardHalf(dev, p, op, zProj, xn, x1, x, batch, h, wd, ws);
        ws.rewind(ss2dScratch);
        Layers.layerNormHalf(dev, kind, false, x1, 0, p.f32().applyAsLong(norm2W), p.f32().applyAsLong(norm2B), xn,
                batch, dm, len, Layers.ACT_NONE);
        dev.mark("norm2");
        long h32 = ws.floats((long) batch * hidden * len);
        Layers.linearHalf(dev, kind, p.matrix().applyAsLong(fc1W), hidden, dm, xn, act, len, h32, true,
                (long) hidden * len, len, len, batch);
        long hid = halves(ws, (long) batch * hidden * len);
        Layers.biasActRes(dev, kind, h32, p.rounded().applyAsLong(fc1B), 0, hid, batch, hidden, len, Layers.ACT_GELU);
        long s32 = ws.floats(batch * act);
        Layers.linearHalf(dev, kind, p.matrix().applyAsLong(fc2W), dm, hidden, hid, (long) hidden * len, len, s32, true,
                act, len, len, batch);
        Layers.biasActRes(dev, kind, s32, p.rounded().applyAsLong(fc2B), x1, out, batch, dm, len, Layers.ACT_NONE);
        dev.mark("mlp");
    }

    /**
     * Scratch of a block with 16-bit activations: the float32 figure ({@link #workspaceBytes}) plus the float32 copies
     * the scan reads and the MLP's float32 results (the 16-bit buffers themselves are half the float32 ones it counts).
     */
    static long workspaceBytesHalf(SS2DConfig c, double mlpRatio, long batch, long len) {
        try {
            long plane = Math.multiplyExact(Math.multiplyExact(batch, c.dInner()), len);
            long routes = Math.multiplyExact(SS2DConfig.ROUTES, plane);
            long extra = Math.addExact(Math.multiplyExact(2, arenaPiece(routes)),
                    arenaPiece(Math.multiplyExact(Math.multiplyExact(SS2DConfig.ROUTES * batch, c.xProjRows()), len)));
            if (mlpRatio > 0) {
                long act = Math.multiplyExact(Math.multiplyExact(batch, c.dModel()), len);
                extra = Math.addExact(extra, Math.addExact(arenaPiece(act), arenaPiece(Math.multiplyExact(
                        Math.multiplyExact(batch, VSSWeights.hidden(c, mlpRatio)), len))));
            }
            return org.ss2d.validate.MemoryBudget.saturatingAdd(workspaceBytes(c, mlpRatio, batch, len), extra);
        } catch (ArithmeticException tooBig) {
            return Long.MAX_VALUE;
        }
    }

    /**
     * Bytes of scratch that {@link #forward} takes from its workspace (every piece rounded up to the arena's
     * alignment, in the order asked for), with the z branch when {@code zGate}.
     */
    static long ss2dBytes(SS2DConfig c, boolean zGate, long batch, long len) {
        long plane = Math.multiplyExact(Math.multiplyExact(batch, c.dInner()), len);
        long routes = Math.multiplyExact(SS2DConfig.ROUTES, plane);
        long bytes = arenaPiece(plane); // xi
        if (zGate) bytes = Math.addExact(bytes, arenaPiece(plane));
        bytes = Math.addExact(bytes, arenaPiece(plane)); // xa
        bytes = Math.addExact(bytes, arenaPiece(routes)); // xs
        bytes = Math.addExact(bytes, arenaPiece(Math.multiplyExact(Math.multiplyExact(SS2DConfig.ROUTES * batch,
                c.xProjRows()), len))); // x_dbl
        return Math.addExact(bytes, Math.multiplyExact(2, arenaPiece(routes))); // dts, ys
    }

    /**
     * Bytes of scratch that {@link #forward} takes with its middle fused ({@link FusedScan}): in_proj's output (which
     * the merged y then takes), the conv output, x_dbl of the four routes and the column routes' transposed rows.
     */
    static long fusedSs2dBytes(SS2DConfig c, long batch, long len) {
        long plane = Math.multiplyExact(Math.multiplyExact(batch, c.dInner()), len);
        long rowsLen = Math.multiplyExact(Math.multiplyExact(batch, c.xProjRows()), len);
        return Math.addExact(Math.addExact(Math.multiplyExact(2, arenaPiece(plane)),
                arenaPiece(Math.multiplyExact(SS2DConfig.ROUTES, rowsLen))), arenaPiece(Math.multiplyExact(2, rowsLen)));
    }

    /**
     * Bytes of scratch of {@link #residual}, {@code hidden} 0 without the MLP: xn and s, then the larger of the
     * SS2D's scratch and x1 + the MLP's hidden map (which reuse it, {@link Workspace#rewind}).
     */
    static long residualBytes(SS2DConfig c, boolean zGate, int hidden, long batch, long len) {
        return residualBytes(c, hidden, batch, len, ss2dBytes(c, zGate, batch, len));
    }

    /** {@link #residualBytes} for a block whose SS2D takes {@code ss2dScratch} bytes (e.g. {@link #fusedSs2dBytes}). */
    static long residualBytes(SS2DConfig c, int hidden, long batch, long len, long ss2dScratch) {
        long act = Math.multiplyExact(Math.multiplyExact(batch, c.dModel()), len);
        long after = ss2dScratch; // what follows xn and s: the SS2D's scratch, then x1 and the MLP's
        if (hidden > 0) {
            after = Math.max(after, Math.addExact(arenaPiece(act),
                    arenaPiece(Math.multiplyExact(Math.multiplyExact(batch, hidden), len))));
        }
        return Math.addExact(Math.multiplyExact(2, arenaPiece(act)), after);
    }

    /** A piece's bytes as the arena aligns them; ArithmeticException where that passes a long. */
    private static long arenaPiece(long floats) {
        long bytes = Math.multiplyExact(floats, 4L);
        Math.addExact(bytes, ScratchArena.ALIGN - 1);
        return ScratchArena.aligned(bytes);
    }
}
