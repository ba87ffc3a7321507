package org.ss2d.conformance.cases;

import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.reference.CrossRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** CrossScan {@code x (batch, c, h, w)} or CrossMerge {@code ys (batch, 4, c, h*w)}. */
public record CrossCase(OpKind op, int batch, int channels, int h, int w, long seed) implements ConformanceCase {
    public CrossCase {
        if (op != OpKind.CROSS_SCAN && op != OpKind.CROSS_MERGE) throw new IllegalArgumentException(op.key());
    }

    @Override
    public String id() {
        return op.key() + " b" + batch + " c" + channels + " " + h + "x" + w + " seed" + seed;
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public String shape() {
        return op == OpKind.CROSS_SCAN ? "x(" + batch + ", " + channels + ", " + h + ", " + w + ")"
                : "ys(" + batch + ", 4, " + channels + ", " + h * w + ") on " + h + "x" + w;
    }

    @Override
    public int dstate() {
        return 0;
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        Draw r = new Draw(seed);
        if (op == OpKind.CROSS_SCAN) {
            float[] x = r.gauss(batch * channels * h * w, 1.0);
            Tensor tx = arena.fromArray("x", x, batch, channels, h, w);
            return new Prepared() {
                @Override
                public Map<String, Expected> expected() {
                    return Map.of("out", new Expected(CrossRef.scan(Draw.widen(x), batch, channels, h, w), OpKind.CROSS_SCAN));
                }

                @Override
                public Map<String, float[]> run(Ss2d ss) {
                    return Map.of("out", Runs.crossScan(ss, arena, tx));
                }
            };
        }
        float[] ys = r.gauss(batch * 4 * channels * h * w, 1.0);
        Tensor tys = arena.fromArray("ys", ys, batch, 4, channels, (long) h * w);
        return new Prepared() {
            @Override
            public Map<String, Expected> expected() {
                return Map.of("out", new Expected(CrossRef.merge(Draw.widen(ys), batch, channels, h, w), OpKind.CROSS_MERGE));
            }

            @Override
            public Map<String, float[]> run(Ss2d ss) {
                return Map.of("out", Runs.crossMerge(ss, arena, tys, h, w));
            }
        };
    }
}
