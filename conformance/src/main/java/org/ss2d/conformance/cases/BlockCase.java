package org.ss2d.conformance.cases;

import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * An SS2D block or a VSS block with seeded VMamba-like weights ({@link RandomWeights}), optionally with extreme
 * values put into the input or the scan's parameters ({@link Values}).
 */
public record BlockCase(OpKind op, SS2DConfig config, double mlpRatio, int batch, int h, int w, long seed, Values values,
                        DType dtype) implements ConformanceCase {
    public BlockCase {
        if (op != OpKind.SS2D && op != OpKind.VSS_BLOCK) throw new IllegalArgumentException(op.key());
    }

    public BlockCase(OpKind op, SS2DConfig config, double mlpRatio, int batch, int h, int w, long seed) {
        this(op, config, mlpRatio, batch, h, w, seed, Values.NORMAL, DType.F32);
    }

    /**
     * This case with the block's {@code dtype} option: x drawn as before and rounded to it, the expected values from
     * the reference that rounds where the backends store that dtype, the output judged in it.
     */
    public BlockCase in(DType t) {
        return new BlockCase(op, config, mlpRatio, batch, h, w, seed, values, t);
    }

    /** Extreme values in a block (issue 18), each reaching the scan inside it. */
    public enum Values {
        NORMAL,
        /** A NaN in one pixel of the input: NaN wherever it propagates (LayerNorm spreads it over channels). */
        NAN_INPUT,
        /** A_logs = 100 in a few rows: A = -exp(100), -inf in float32, exp(dt A) = 0. */
        HUGE_A_LOGS,
        /** A_logs = 88.5: A = -2.7e38, finite, but dt A overflows float32. */
        EDGE_A_LOGS,
        /** dt_projs_bias = -inf in a few channels: softplus(-inf) = 0, dt = 0 there. */
        NEG_INF_DT_BIAS,
        /** dt_projs_bias = 10 everywhere: dt ~ 10, dt A far below -126 for most states. */
        LARGE_DT_BIAS
    }

    /** This case with extreme values. */
    public BlockCase with(Values v) {
        return new BlockCase(op, config, mlpRatio, batch, h, w, seed, v, dtype);
    }

    public static BlockCase ss2d(SS2DConfig c, int batch, int h, int w, long seed) {
        return new BlockCase(OpKind.SS2D, c, 0, batch, h, w, seed);
    }

    public static BlockCase vss(SS2DConfig c, int batch, int h, int w, long seed) {
        return new BlockCase(OpKind.VSS_BLOCK, c, 4.0, batch, h, w, seed);
    }

    @Override
    public String id() {
        return op.key() + " d_model" + config.dModel() + " d_state" + config.dState() + " ssm_ratio" + config.ssmRatio()
                + (config.convBias() ? " +conv_bias" : "") + " b" + batch + " " + h + "x" + w
                + (values == Values.NORMAL ? "" : " " + values.name().toLowerCase(java.util.Locale.ROOT))
                + (dtype == DType.F32 ? "" : " " + dtype.arrowName()) + " seed" + seed;
    }

    @Override
    public String shape() {
        return "x(" + batch + ", " + config.dModel() + ", " + h + ", " + w + ") d_inner=" + config.dInner()
                + " N=" + config.dState();
    }

    @Override
    public int dstate() {
        return config.dState();
    }

    /** Puts this case's extreme values into the scan's parameters (in place, before anything runs). */
    private void poke(SS2DWeights w) {
        Tensor aLogs = w.aLogs(), dtB = w.dtProjsBias();
        switch (values) {
            case HUGE_A_LOGS, EDGE_A_LOGS -> {
                float v = values == Values.HUGE_A_LOGS ? 100f : 88.5f;
                for (long i = 0; i < aLogs.elementCount(); i += 7) aLogs.setFloat(i, v);
            }
            case NEG_INF_DT_BIAS -> {
                for (long i = 0; i < dtB.elementCount(); i += 5) dtB.setFloat(i, Float.NEGATIVE_INFINITY);
            }
            case LARGE_DT_BIAS -> {
                for (long i = 0; i < dtB.elementCount(); i++) dtB.setFloat(i, 10f);
            }
            default -> { }
        }
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        Tensor drawn = RandomWeights.gaussian(arena, seed * 31 + 7, 1.0, batch, config.dModel(), h, w);
        if (values == Values.NAN_INPUT) drawn.setFloat(drawn.elementCount() / 2 + 1, Float.NaN);
        Tensor x = dtype == DType.F32 ? drawn : arena.convert(drawn, dtype);
        if (op == OpKind.SS2D) {
            SS2DWeights wts = RandomWeights.ss2d(arena, config, seed);
            poke(wts);
            return new Prepared() {
                @Override
                public Map<String, Expected> expected() {
                    return Map.of("out", new Expected(SS2DRef.forward(SS2DRef.Params.of(wts), Doubles.of(x), batch, h, w,
                            dtype), op, dtype));
                }

                @Override
                public Map<String, float[]> run(Ss2d ss) {
                    return Map.of("out", Runs.ss2d(ss, arena, wts, x));
                }
            };
        }
        VSSWeights wts = RandomWeights.vss(arena, config, mlpRatio, seed);
        poke(wts.op());
        return new Prepared() {
            @Override
            public Map<String, Expected> expected() {
                return Map.of("out", new Expected(VSSRef.forward(VSSRef.Params.of(wts), Doubles.of(x), batch, h, w, dtype),
                        op, dtype));
            }

            @Override
            public Map<String, float[]> run(Ss2d ss) {
                return Map.of("out", Runs.vss(ss, arena, wts, x));
            }
        };
    }
}
