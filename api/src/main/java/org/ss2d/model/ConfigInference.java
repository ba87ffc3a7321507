package org.ss2d.model;

import java.util.function.Function;
import org.ss2d.tensor.Shapes;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The one place that derives an {@link SS2DConfig} (and a VSS block's mlp_ratio) from the shapes of
 * the parameters under VMamba's state-dict names. Pure shape logic: callers pass a lookup from a
 * parameter name to its shape (null when the source has no such tensor), so case files, safetensors
 * checkpoints and Arrow weight files all infer the same config from the same shapes.
 *
 * <p>Faults are {@link Ss2dArgumentException}s naming the parameter as the source spells it.
 */
public final class ConfigInference {
    private ConfigInference() {}

    /**
     * d_model and d_inner from {@code in_proj.weight (d_inner, d_model)}, d_state from {@code A_logs},
     * dt_rank from {@code dt_projs_weight}, d_conv from {@code conv2d.weight}, conv bias from the
     * presence of {@code conv2d.bias}; ssm_ratio is the smallest double whose
     * {@code int(ssm_ratio * d_model)} is d_inner (any d_inner is reachable this way).
     *
     * @param shapes parameter name (with {@code prefix}) to shape, null when absent
     * @param prefix prepended to every name ({@code ""}, {@code "op."}, {@code "layers.0.blocks.1.op."})
     */
    public static SS2DConfig ss2d(Function<String, long[]> shapes, String prefix) {
        long[] inProj = shape(shapes, prefix + SS2DWeights.IN_PROJ, 2, "(d_inner, d_model)");
        long[] conv = shape(shapes, prefix + SS2DWeights.CONV_W, 4, "(d_inner, 1, k, k)");
        long[] dt = shape(shapes, prefix + SS2DWeights.DT_W, 3, "(4, d_inner, dt_rank)");
        long[] aLogs = shape(shapes, prefix + SS2DWeights.A_LOGS, 2, "(4*d_inner, d_state)");
        int dModel = (int) inProj[1];
        int dInner = (int) inProj[0];
        return new SS2DConfig(dModel, (int) aLogs[1], ratio(dInner, dModel), (int) dt[2], (int) conv[2],
                shapes.apply(prefix + SS2DWeights.CONV_B) != null);
    }

    /** mlp_ratio from {@code mlp.fc1.weight (hidden, d_model)} under {@code prefix}: hidden = int(d_model * ratio). */
    public static double mlpRatio(Function<String, long[]> shapes, String prefix, int dModel) {
        long[] fc1 = shape(shapes, prefix + VSSWeights.FC1_W, 2, "(hidden, d_model)");
        return ratio((int) fc1[0], dModel);
    }

    /** The smallest double r with {@code (int) (r * whole) == part}, as Python's int(ratio * d_model) needs. */
    public static double ratio(int part, int whole) {
        double r = (double) part / whole;
        while ((int) (r * whole) < part) r = Math.nextUp(r); // 230 / 112 * 112 rounds to 229.99...: step up
        return r;
    }

    private static long[] shape(Function<String, long[]> shapes, String name, int rank, String layout) {
        long[] s = shapes.apply(name);
        if (s == null) {
            throw new Ss2dArgumentException(name, "a tensor " + layout, "missing key", null);
        }
        if (s.length != rank) {
            throw new Ss2dArgumentException(name, "rank " + rank + " " + layout, "shape " + Shapes.format(s), null);
        }
        for (long d : s) {
            if (d < 1 || d > Integer.MAX_VALUE) {
                throw new Ss2dArgumentException(name, "rank " + rank + " " + layout + " with sizes between 1 and "
                        + Integer.MAX_VALUE, "shape " + Shapes.format(s), null);
            }
        }
        return s;
    }
}
