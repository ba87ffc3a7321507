package org.ss2d.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.conformance.Tolerances;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The SS2D block's depthwise convolution + SiLU step ({@code conv_silu}) with each of a backend's kernel variants in
 * one process (what {@code ss2d bench dwconv} runs): for each shape an SS2D block with d_model = the conv's channels
 * (ssm_ratio 1, d_state 1), x and out on the device; per variant (a system property set around its calls, e.g.
 * {@code ss2d.cuda.dwconv=rows|v2}) one block output is checked against the float64 reference, then
 * {@link org.ss2d.spi.Backend#profileSteps} gives the step's device time. The variants alternate over rounds so drift
 * hits each; the best round is reported. The floor is the step's bytes (x read once, result written once) at the
 * device-to-device copy bandwidth measured in the same run.
 */
public final class DwconvBench {
    private DwconvBench() {}

    /** shapes: {batch, channels, height, width}. */
    public record Config(String backend, DType dtype, List<long[]> shapes, String property, List<String> variants,
                         int rounds, int runs, long seed) {}

    public record Result(String backend, String device, String dtype, long batch, long channels, long height,
                         long width, String variant, double convMs, double floorMs, double ratio, double copyGbPerS,
                         double checkRelErr) {}

    public static List<Result> run(Config c) {
        List<Result> out = new ArrayList<>();
        String before = System.getProperty(c.property());
        try (Backs.Handle hd = Backs.open(c.backend(), 0); TensorScope scope = TensorScope.root("bench-dwconv")) {
            if (!hd.backend().capabilities().deviceResident()) {
                throw new IllegalArgumentException("--backend: the conv step is timed on a device backend, found "
                        + hd.backend().name());
            }
            Ss2d ss = Ss2d.on(hd.backend());
            double copyGbPerS;
            try (TensorScope dev = TensorScope.root("bench-dwconv-copy")) {
                Tensor c0 = hd.backend().allocate(dev, DType.F32, 1L << 26), c1 = hd.backend().allocate(dev, DType.F32, 1L << 26);
                double copyMs = hd.backend().deviceTimeMs(() -> hd.backend().copy(c0, c1), 3, 20).orElse(Double.NaN);
                copyGbPerS = 2.0 * c0.byteSize() / (copyMs * 1e-3) / 1e9;
                dev.release();
            }
            for (long[] s : c.shapes()) {
                out.addAll(shape(c, hd, ss, scope, s, copyGbPerS));
            }
        } finally {
            if (before == null) System.clearProperty(c.property());
            else System.setProperty(c.property(), before);
        }
        return out;
    }

    private static List<Result> shape(Config c, Backs.Handle hd, Ss2d ss, TensorScope parent, long[] s,
                                      double copyGbPerS) {
        int b = (int) s[0], ch = (int) s[1], h = (int) s[2], w = (int) s[3];
        DType dt = c.dtype();
        SS2DConfig cfg = SS2DConfig.of(ch, 1, 1.0);
        try (TensorScope scope = parent.child("shape")) {
            Tensor drawn = RandomWeights.gaussian(scope, c.seed(), 1.0, b, ch, h, w);
            Tensor x = dt == DType.F32 ? drawn : scope.convert(drawn, dt);
            SS2DWeights wt = RandomWeights.ss2d(scope, cfg, c.seed() + 1);
            double[] want = SS2DRef.forward(SS2DRef.Params.of(wt), Doubles.first(x, (long) ch * h * w), 1, h, w, dt);
            double budget = Tolerances.relative(OpKind.SS2D, dt, Tolerances.Gemm.of(hd.backend()));
            Tensor host = scope.allocate(dt, b, ch, h, w);
            double[] err = new double[c.variants().size()];
            double[] best = new double[c.variants().size()];
            java.util.Arrays.fill(best, Double.POSITIVE_INFINITY);
            try (TensorScope dev = TensorScope.root("bench-dwconv-device")) {
                Tensor dx = ss.toDevice(dev, x);
                Tensor dOut = hd.backend().allocate(dev, dt, b, ch, h, w);
                Runnable call = () -> ss.ss2dInto(wt, dx, dOut, dt);
                for (int v = 0; v < err.length; v++) {
                    System.setProperty(c.property(), c.variants().get(v));
                    host.fill(Float.NaN);
                    ss.ss2dInto(wt, x, host, dt);
                    float[] got = new float[want.length];
                    for (int i = 0; i < got.length; i++) got[i] = host.getFloat(i);
                    err[v] = Doubles.relativeError(got, want);
                    if (!(err[v] <= budget)) {
                        throw new IllegalStateException("block check failed with -D" + c.property() + "="
                                + c.variants().get(v) + " on " + hd.backend().name() + " " + dt.arrowName() + " x (" + b
                                + ", " + ch + ", " + h + ", " + w + "): relative error " + err[v] + " > " + budget);
                    }
                    for (int i = 0; i < 3; i++) call.run(); // warm-up: weights uploaded, kernels loaded
                    hd.backend().synchronize();
                }
                for (int r = 0; r < c.rounds(); r++) {
                    for (int k = 0; k < err.length; k++) {
                        int v = r % 2 == 0 ? k : err.length - 1 - k;
                        System.setProperty(c.property(), c.variants().get(v));
                        Map<String, Double> steps = hd.backend().profileSteps(call, c.runs());
                        Double ms = steps.get("conv_silu");
                        if (ms == null) throw new IllegalStateException("the backend's profile has no conv_silu step: " + steps.keySet());
                        best[v] = Math.min(best[v], ms);
                    }
                }
                dev.release();
            }
            double floorMs = 2.0 * x.byteSize() / (copyGbPerS * 1e9) * 1e3;
            List<Result> out = new ArrayList<>();
            for (int v = 0; v < err.length; v++) {
                out.add(new Result(hd.backend().name(), hd.backend().capabilities().device(), dt.arrowName(), b, ch, h, w,
                        c.variants().get(v), best[v], floorMs, best[v] / floorMs, copyGbPerS, err[v]));
            }
            scope.release();
            return out;
        }
    }
}
