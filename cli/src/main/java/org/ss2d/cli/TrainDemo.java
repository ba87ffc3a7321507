package org.ss2d.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * {@code ss2d demo --train}: one VSS block (VMamba-T stage-1 widths: d_model 96, d_state 1, ssm_ratio 1, MLP
 * ratio 4) fitted by plain SGD to a fixed random target, loss {@code mean((out - target)^2) / 2}. Each step runs
 * the forward and {@code Ss2d.vssBlockBackward} through the facade, then {@code w -= lr * grad.w} for every
 * parameter. The target is the output of the same block with other seeded weights, so a zero loss is reachable.
 * The backward runs where {@link #backwardOn} says.
 */
final class TrainDemo {
    private TrainDemo() {}

    /** The loss before the first step and after the last, and where forward and backward ran. */
    record Result(double firstLoss, double lastLoss, int steps, String forwardOn, String backwardOn) {}

    /**
     * Where the backward runs: {@code ss}'s backend when it has a VSS block backward (cpu, reference), else the
     * float64 reference (named: auto never picks it).
     */
    static Ss2d backwardOn(Ss2d ss) {
        try {
            ss.backend().blockBackwardWorkingBytes(null, 4.0, 1, 1, 1);
            return ss;
        } catch (org.ss2d.validate.LimitExceededException e) {
            return Ss2d.on("reference");
        }
    }

    static Result run(Ss2d ss, int batch, int grid, int steps, double lr, long seed, PrintWriter out, int every) {
        SS2DConfig c = SS2DConfig.of(96, 1, 1.0);
        Ss2d bwd = backwardOn(ss);
        TensorScope scope = TensorScope.root("train demo"); // an arena: everything dies with it
        try {
            VSSWeights w = RandomWeights.vss(scope, c, 4.0, seed);
            VSSWeights teacher = RandomWeights.vss(scope, c, 4.0, seed + 100);
            Tensor x = RandomWeights.gaussian(scope, seed + 1, 1.0, batch, c.dModel(), grid, grid);
            float[] target = ss.vssBlock(scope, teacher, x).toFloatArray();
            Map<String, Tensor> params = w.asMap();
            double first = Double.NaN, loss = Double.NaN;
            String fwdOn = "?", bwdOn = "?";
            for (int step = 0; step <= steps; step++) {
                Tensor y = ss.vssBlock(scope, w, x);
                fwdOn = ss.lastBackend().name();
                float[] yv = y.toFloatArray();
                y.close();
                double sum = 0;
                float[] g = new float[yv.length];
                for (int i = 0; i < yv.length; i++) {
                    double e = yv[i] - target[i];
                    sum += e * e;
                    g[i] = (float) (e / yv.length);
                }
                loss = 0.5 * sum / yv.length;
                if (step == 0) first = loss;
                if (out != null && (step % every == 0 || step == steps)) {
                    out.printf(Locale.ROOT, "step %4d  loss %.6e%n", step, loss);
                    out.flush();
                }
                if (step == steps) break;
                Tensor dout = scope.allocate(org.ss2d.tensor.DType.F32, x.shape()).copyFrom(g);
                Map<String, Tensor> grads = bwd.vssBlockBackward(scope, w, x, dout);
                bwdOn = bwd.lastBackend().name();
                for (var e : params.entrySet()) {
                    Tensor p = e.getValue();
                    Tensor gr = grads.get("grad." + e.getKey());
                    float[] pv = p.toFloatArray(), gv = gr.toFloatArray();
                    for (int i = 0; i < pv.length; i++) pv[i] -= (float) (lr * gv[i]);
                    p.copyFrom(pv);
                }
                for (Tensor t : grads.values()) t.close();
                dout.close();
            }
            return new Result(first, loss, steps, fwdOn, bwdOn);
        } finally {
            scope.release();
        }
    }
}
