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

/** An SS2D block or a VSS block with seeded VMamba-like weights ({@link RandomWeights}). */
public record BlockCase(OpKind op, SS2DConfig config, double mlpRatio, int batch, int h, int w, long seed)
        implements ConformanceCase {
    public BlockCase {
        if (op != OpKind.SS2D && op != OpKind.VSS_BLOCK) throw new IllegalArgumentException(op.key());
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
                + (config.convBias() ? " +conv_bias" : "") + " b" + batch + " " + h + "x" + w + " seed" + seed;
    }

    @Override
    public DType dtype() {
        return DType.F32;
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

    @Override
    public Prepared prepare(TensorScope arena) {
        Tensor x = RandomWeights.gaussian(arena, seed * 31 + 7, 1.0, batch, config.dModel(), h, w);
        if (op == OpKind.SS2D) {
            SS2DWeights wts = RandomWeights.ss2d(arena, config, seed);
            return new Prepared() {
                @Override
                public Map<String, Expected> expected() {
                    return Map.of("out", new Expected(SS2DRef.forward(SS2DRef.Params.of(wts), Doubles.of(x), batch, h, w), op));
                }

                @Override
                public Map<String, float[]> run(Ss2d ss) {
                    return Map.of("out", Runs.ss2d(ss, arena, wts, x));
                }
            };
        }
        VSSWeights wts = RandomWeights.vss(arena, config, mlpRatio, seed);
        return new Prepared() {
            @Override
            public Map<String, Expected> expected() {
                return Map.of("out", new Expected(VSSRef.forward(VSSRef.Params.of(wts), Doubles.of(x), batch, h, w), op));
            }

            @Override
            public Map<String, float[]> run(Ss2d ss) {
                return Map.of("out", Runs.vss(ss, arena, wts, x));
            }
        };
    }
}
