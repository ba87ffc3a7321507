package org.ss2d.bench;

import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.report.ReportJson;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * SS2D (or VSS) block backward against the block's own forward, same run: seeded weights (VMamba-T stage-1 widths by
 * default: d_state 1, ssm_ratio 1), x and dout ~ N(0, 1); after a 3 s warm-up, forward and backward alternate round by
 * round (a busy host slows both alike) and the ratio of their medians is the number to read. The backward allocates
 * its gradients per call (inside the timing, as a caller of {@code Ss2d.ss2dBackward} would). Correctness of the
 * block backward is the tests' and the conformance suite's; this only times it.
 */
public final class BlockBackwardBench {
    private BlockBackwardBench() {}

    public record Result(String op, String backend, String device, int batch, int dModel, int dState, double ssmRatio,
                         int height, int width, int threads, double forwardMs, double backwardMs, double ratio,
                         double minRatio, int rounds) {}

    public static Result run(String backend, int b, int dm, int h, int w, int n, double ssmRatio, boolean vss,
                             int threads, int rounds) {
        SS2DConfig cfg = SS2DConfig.of(dm, n, ssmRatio);
        TensorScope scope = TensorScope.root("bench-block-bwd"); // an arena: every tensor dies with it
        try (Backs.Handle hd = Backs.open(backend, threads)) {
            Ss2d ss = Ss2d.on(hd.backend());
            Tensor x = RandomWeights.gaussian(scope, 42, 1.0, b, dm, h, w);
            Tensor dout = RandomWeights.gaussian(scope, 43, 1.0, b, dm, h, w);
            Tensor out = scope.allocate(DType.F32, b, dm, h, w);
            Runnable fwd, bwd;
            if (vss) {
                VSSWeights wt = RandomWeights.vss(scope, cfg, 4.0, 44);
                fwd = () -> ss.vssBlockInto(wt, x, out);
                bwd = () -> {
                    TensorScope g = TensorScope.root("grads"); // an arena: the gradients die with it
                    try {
                        ss.vssBlockBackward(g, wt, x, dout);
                    } finally {
                        g.release();
                    }
                };
            } else {
                SS2DWeights wt = RandomWeights.ss2d(scope, cfg, 44);
                fwd = () -> ss.ss2dInto(wt, x, out);
                bwd = () -> {
                    TensorScope g = TensorScope.root("grads"); // an arena: the gradients die with it
                    try {
                        ss.ss2dBackward(g, wt, x, dout);
                    } finally {
                        g.release();
                    }
                };
            }
            long end = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < end) {
                fwd.run();
                bwd.run();
            }
            double[] f = new double[rounds], bw = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                long t0 = System.nanoTime();
                fwd.run();
                long t1 = System.nanoTime();
                bwd.run();
                f[i] = (t1 - t0) / 1e6;
                bw[i] = (System.nanoTime() - t1) / 1e6;
            }
            java.util.Arrays.sort(f);
            java.util.Arrays.sort(bw);
            return new Result(vss ? "vss_block_backward" : "ss2d_backward", hd.backend().name(),
                    hd.backend().capabilities().device(), b, dm, n, ssmRatio, h, w, hd.threads(), f[rounds / 2],
                    bw[rounds / 2], bw[rounds / 2] / f[rounds / 2], bw[0] / f[0], rounds);
        } finally {
            scope.release();
        }
    }

    /** {@code BlockBackwardBench B D H W [threads] [rounds] [d_state] [ssm_ratio] [vss]}: prints the JSON line. */
    public static void main(String[] a) {
        int threads = a.length > 4 ? Integer.parseInt(a[4]) : 0, rounds = a.length > 5 ? Integer.parseInt(a[5]) : 7;
        int n = a.length > 6 ? Integer.parseInt(a[6]) : 1;
        double ratio = a.length > 7 ? Double.parseDouble(a[7]) : 1.0;
        boolean vss = a.length > 8 && a[8].equals("vss");
        System.out.println(ReportJson.line(run("cpu", Integer.parseInt(a[0]), Integer.parseInt(a[1]),
                Integer.parseInt(a[2]), Integer.parseInt(a[3]), n, ratio, vss, threads, rounds)));
    }
}
