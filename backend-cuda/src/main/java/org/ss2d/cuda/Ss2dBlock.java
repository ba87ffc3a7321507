package org.ss2d.cuda;

import java.util.function.ToLongFunction;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.MemoryBudget;

/**
 * The SS2D (v05_noz, channels-first) and VSS blocks on the device, every step on one stream and
 * every intermediate in device memory (spec 5.3):
 * in_proj (cuBLAS) -> depthwise conv + SiLU -> CrossScan -> x_proj per route (cuBLAS) -> dt_proj per
 * route (cuBLAS) -> selective scan (groups = routes, softplus, delta_bias, D) -> CrossMerge ->
 * LayerNorm2d -> out_proj (cuBLAS). B and C are read in place from x_proj's output (grouped
 * layout with the route as group), so nothing is split or copied.
 */
final class Ss2dBlock {
    private Ss2dBlock() {}

    /**
     * Device bytes of the intermediates {@link #forward} ({@code mlpRatio} 0) or {@link #vss} takes from its workspace
     * over {@code batch x len} pixels, each piece aligned as the arena aligns it; saturates instead of overflowing.
     * Kept beside the two methods: a new {@code ws.floats} there must be counted here
     * ({@code Ss2dBlockBytesTest} walks the methods against a counting workspace).
     */
    static long workspaceBytes(SS2DConfig c, double mlpRatio, long batch, long len) {
        long plane = MemoryBudget.product(c.dInner(), len);
        long bytes = 0;
        bytes = piece(bytes, 2, batch, plane);                                    // xi, xa
        bytes = piece(bytes, 3, batch, SS2DConfig.ROUTES, plane);                 // xs, dts, ys
        bytes = piece(bytes, 1, batch, SS2DConfig.ROUTES, c.xProjRows(), len);    // x_dbl
        if (mlpRatio > 0) {
            bytes = piece(bytes, 3, batch, c.dModel(), len);                      // xn, s, x1
            bytes = piece(bytes, 1, batch, VSSWeights.hidden(c, mlpRatio), len);  // hid
        }
        return bytes;
    }

    private static long piece(long sum, int count, long... floats) {
        long one = MemoryBudget.product(MemoryBudget.product(floats), 4);
        one = one > Long.MAX_VALUE - ScratchArena.ALIGN ? Long.MAX_VALUE : ScratchArena.aligned(one);
        return MemoryBudget.saturatingAdd(sum, MemoryBudget.product(one, count));
    }

    static void forward(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, SS2DWeights w,
                        long x, long out, int batch, int h, int wd, Workspace ws) {
        SS2DConfig c = w.config();
        int dm = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank(), rows = c.xProjRows();
        int len = h * wd;
        long plane = (long) di * len;
        final int routes = SS2DConfig.ROUTES;

        long xi = ws.floats(batch * plane);
        Layers.linear(dev, weight.applyAsLong(w.inProjWeight()), di, dm, x, (long) dm * len, len, xi, plane, len, len,
                batch);
        dev.mark("in_proj");
        long xa = ws.floats(batch * plane);
        Layers.dwconv(dev, xi, weight.applyAsLong(w.conv2dWeight()), weight.applyAsLong(w.conv2dBias()), xa, batch, di,
                h, wd, c.dConv(), Layers.ACT_SILU);
        dev.mark("conv_silu");
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

        long y = xi;  // in_proj's output is dead by now
        Layers.crossMerge(dev, ys, y, batch, di, h, wd);
        dev.mark("cross_merge");
        long yn = xa;
        Layers.layerNorm(dev, y, weight.applyAsLong(w.outNormWeight()), weight.applyAsLong(w.outNormBias()), yn, batch,
                di, len);
        dev.mark("norm_out");
        Layers.linear(dev, weight.applyAsLong(w.outProjWeight()), dm, di, yn, plane, len, out, (long) dm * len, len,
                len, batch);
        dev.mark("out_proj");
    }

    /** {@code x1 = x + SS2D(LN(x)); out = x1 + fc2(GELU(fc1(LN2(x1))))}. */
    static void vss(CudaDevice dev, ToLongFunction<Tensor> weight, ToLongFunction<Tensor> negExpA, VSSWeights w,
                    long x, long out, int batch, int h, int wd, Workspace ws) {
        SS2DConfig c = w.config();
        int dm = c.dModel(), hidden = VSSWeights.hidden(c, w.mlpRatio());
        int len = h * wd;
        long act = (long) dm * len;
        long xn = ws.floats(batch * act);
        Layers.layerNorm(dev, x, weight.applyAsLong(w.normWeight()), weight.applyAsLong(w.normBias()), xn, batch, dm, len);
        dev.mark("norm_in");
        long s = ws.floats(batch * act);
        forward(dev, weight, negExpA, w.op(), xn, s, batch, h, wd, ws);
        long x1 = ws.floats(batch * act);
        Layers.add(dev, x, s, x1, batch * act);
        dev.mark("residual");
        Layers.layerNorm(dev, x1, weight.applyAsLong(w.norm2Weight()), weight.applyAsLong(w.norm2Bias()), xn, batch, dm,
                len);
        dev.mark("norm2");
        long hid = ws.floats((long) batch * hidden * len);
        Layers.linear(dev, weight.applyAsLong(w.fc1Weight()), hidden, dm, xn, act, len, hid, (long) hidden * len, len,
                len, batch);
        Layers.biasAct(dev, hid, weight.applyAsLong(w.fc1Bias()), hid, batch, hidden, len, Layers.ACT_GELU);
        Layers.linear(dev, weight.applyAsLong(w.fc2Weight()), dm, hidden, hid, (long) hidden * len, len, s, act, len,
                len, batch);
        Layers.biasAct(dev, s, weight.applyAsLong(w.fc2Bias()), s, batch, dm, len, Layers.ACT_NONE);
        dev.mark("mlp");
        Layers.add(dev, x1, s, out, batch * act);
        dev.mark("residual");
    }
}
