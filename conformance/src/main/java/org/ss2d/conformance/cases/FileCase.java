package org.ss2d.conformance.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.conformance.Op;
import org.ss2d.conformance.io.CaseFileReader.CaseFile;
import org.ss2d.conformance.io.CaseFileReader.Column;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.reference.CrossRef;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.ScanRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;
import org.ss2d.validate.Validator;

/**
 * A case read from a case file. Expected outputs come from the file's extra columns when it has them
 * ({@code out}, {@code last_state}; {@code xs} / {@code y} for cross cases), else from the float64
 * reference. A cross file holding both {@code x} and {@code ys} is checked both ways.
 */
public record FileCase(CaseFile file) implements ConformanceCase {
    private static final Capabilities ANY = new Capabilities(Capabilities.UNLIMITED, java.util.Set.of(DType.F32), false,
            "-", 0, false, 0);

    @Override
    public String id() {
        return "file " + file.path();
    }

    @Override
    public Op op() {
        if (file.kind() == null) {
            throw new Ss2dArgumentException("ss2d.kind", "an op kind in the schema metadata", "none in " + file.path(), null);
        }
        return Op.ofKind(file.kind());
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public String shape() {
        String main = switch (op()) {
            case SELECTIVE_SCAN -> "u";
            case CROSS_MERGE -> "ys";
            default -> "x";
        };
        return file.has(main) ? main + Shapes.format(file.column(main).shape()) : "?";
    }

    @Override
    public int dstate() {
        return switch (op()) {
            case SELECTIVE_SCAN -> file.has("A") && file.column("A").shape().length == 2 ? (int) file.column("A").shape()[1] : 0;
            case SS2D -> file.has("A_logs") ? (int) file.column("A_logs").shape()[1] : 0;
            case VSS_BLOCK -> file.has("op.A_logs") ? (int) file.column("op.A_logs").shape()[1] : 0;
            default -> 0;
        };
    }

    /** The expected columns this file carries, by output name. */
    public Map<String, Expected> golden() {
        Map<String, Expected> m = new LinkedHashMap<>();
        Op op = op();
        switch (op) {
            case SELECTIVE_SCAN -> {
                put(m, "out", "out", op);
                if (returnLastState()) put(m, "last_state", "last_state", op);
            }
            case CROSS_SCAN -> {
                if (!put(m, "out", "out", op)) put(m, "out", "xs", op);
                if (file.has("ys") && file.has("y")) put(m, "y", "y", Op.CROSS_MERGE);
            }
            case CROSS_MERGE -> {
                if (!put(m, "out", "out", op)) put(m, "out", "y", op);
                if (file.has("x") && file.has("xs")) put(m, "xs", "xs", Op.CROSS_SCAN);
            }
            default -> put(m, "out", "out", op);
        }
        return m;
    }

    private boolean put(Map<String, Expected> m, String output, String column, Op op) {
        if (!file.has(column)) return false;
        m.put(output, new Expected(file.column(column).values(), op));
        return true;
    }

    private boolean returnLastState() {
        var n = file.options().get("return_last_state");
        return n != null && n.asBoolean();
    }

    private boolean softplus() {
        var n = file.options().get("delta_softplus");
        return n != null && n.asBoolean();
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        Inputs in = new Inputs(arena);
        Map<String, Expected> golden = golden();
        return new Prepared() {
            @Override
            public Map<String, Expected> expected() {
                Map<String, Expected> ref = in.reference();
                Map<String, Expected> m = new LinkedHashMap<>(ref);
                m.putAll(golden);
                return m;
            }

            @Override
            public Map<String, float[]> run(Ss2d ss) {
                return in.run(ss);
            }
        };
    }

    /** The float64 reference's outputs on this file's inputs (as rounded to float32 on load). */
    public Map<String, Expected> reference(TensorScope arena) {
        return new Inputs(arena).reference();
    }

    /** Tensors made from the file's columns, and what to do with them per op. */
    private final class Inputs {
        private final TensorScope arena;

        Inputs(TensorScope arena) {
            this.arena = arena;
        }

        Tensor t(String name) {
            Column c = file.column(name);
            return arena.fromArray(name, Doubles.narrow(c.values()), c.shape());
        }

        /** A column's values as the backends see them: rounded to float32, then widened. */
        double[] f32(String name) {
            return Doubles.widen(Doubles.narrow(file.column(name).values()));
        }

        Tensor opt(String name) {
            return file.has(name) ? t(name) : null;
        }

        ScanArgs scanArgs() {
            return new ScanArgs(t("u"), t("delta"), t("A"), t("B"), t("C"), opt("D"), opt("z"), opt("delta_bias"),
                    softplus(), returnLastState());
        }

        long[] grid() {
            long h = file.option("H", -1), w = file.option("W", -1);
            if (h < 1 || w < 1) {
                throw new Ss2dArgumentException("ss2d.options", "H and W (the grid of the merged map)",
                        file.options().toString(), null);
            }
            return new long[] {h, w};
        }

        SS2DConfig config(String prefix) {
            long[] in = file.column(prefix + SS2DWeights.IN_PROJ).shape();
            int dm = (int) in[1], di = (int) in[0];
            double ratio = file.options().has("ssm_ratio") ? file.options().get("ssm_ratio").asDouble() : (double) di / dm;
            SS2DConfig c = new SS2DConfig(dm, (int) file.column(prefix + SS2DWeights.A_LOGS).shape()[1], ratio,
                    (int) file.column(prefix + SS2DWeights.DT_W).shape()[2],
                    (int) file.column(prefix + SS2DWeights.CONV_W).shape()[2], file.has(prefix + SS2DWeights.CONV_B));
            if (c.dInner() != di) {
                throw new Ss2dArgumentException("ssm_ratio", "int(ssm_ratio * d_model) = " + di + " (in_proj rows)",
                        "int(" + ratio + " * " + dm + ") = " + c.dInner(), null);
            }
            return c;
        }

        Map<String, Tensor> dict(java.util.Set<String> names) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String n : names) if (file.has(n)) m.put(n, t(n));
            return m;
        }

        SS2DWeights ss2dWeights() {
            SS2DConfig c = config("");
            return SS2DWeights.fromStateDict(c, dict(SS2DWeights.expectedShapes(c).keySet()), "");
        }

        VSSWeights vssWeights() {
            SS2DConfig c = config(VSSWeights.OP);
            double ratio = file.options().has("mlp_ratio") ? file.options().get("mlp_ratio").asDouble()
                    : (double) file.column(VSSWeights.FC1_W).shape()[0] / c.dModel();
            return VSSWeights.fromStateDict(c, ratio, dict(VSSWeights.expectedShapes(c, ratio).keySet()), "");
        }

        Map<String, float[]> run(Ss2d ss) {
            Map<String, float[]> m = new LinkedHashMap<>();
            switch (op()) {
                case SELECTIVE_SCAN -> m.putAll(Runs.scan(ss, arena, scanArgs()));
                case CROSS_SCAN -> {
                    m.put("out", Runs.crossScan(ss, arena, t("x")));
                    if (file.has("ys") && file.has("y")) {
                        long[] g = grid();
                        m.put("y", Runs.crossMerge(ss, arena, t("ys"), g[0], g[1]));
                    }
                }
                case CROSS_MERGE -> {
                    long[] g = grid();
                    m.put("out", Runs.crossMerge(ss, arena, t("ys"), g[0], g[1]));
                    if (file.has("x") && file.has("xs")) m.put("xs", Runs.crossScan(ss, arena, t("x")));
                }
                case SS2D -> m.put("out", Runs.ss2d(ss, arena, ss2dWeights(), t("x")));
                case VSS_BLOCK -> m.put("out", Runs.vss(ss, arena, vssWeights(), t("x")));
            }
            return m;
        }

        Map<String, Expected> reference() {
            Map<String, Expected> m = new LinkedHashMap<>();
            Op op = op();
            switch (op) {
                case SELECTIVE_SCAN -> {
                    ScanArgs a = scanArgs();
                    ScanShape s = Validator.selectiveScan(a, ANY, null);
                    ScanRef.Result r = ScanRef.run(ScanRef.Problem.of(a, s));
                    m.put("out", new Expected(r.out(), op));
                    if (a.returnLastState()) m.put("last_state", new Expected(r.lastState(), op));
                }
                case CROSS_SCAN, CROSS_MERGE -> {
                    if (file.has("x")) {
                        long[] x = file.column("x").shape();
                        m.put(op == Op.CROSS_SCAN ? "out" : "xs", new Expected(CrossRef.scan(f32("x"),
                                (int) x[0], (int) x[1], (int) x[2], (int) x[3]), Op.CROSS_SCAN));
                    }
                    if (file.has("ys") && (op == Op.CROSS_MERGE || file.has("y"))) {
                        long[] ys = file.column("ys").shape();
                        long[] g = grid();
                        m.put(op == Op.CROSS_MERGE ? "out" : "y", new Expected(CrossRef.merge(f32("ys"),
                                (int) ys[0], (int) ys[2], (int) g[0], (int) g[1]), Op.CROSS_MERGE));
                    }
                }
                case SS2D -> {
                    long[] x = file.column("x").shape();
                    m.put("out", new Expected(SS2DRef.forward(SS2DRef.Params.of(ss2dWeights()), f32("x"),
                            (int) x[0], (int) x[2], (int) x[3]), op));
                }
                case VSS_BLOCK -> {
                    long[] x = file.column("x").shape();
                    m.put("out", new Expected(VSSRef.forward(VSSRef.Params.of(vssWeights()), f32("x"),
                            (int) x[0], (int) x[2], (int) x[3]), op));
                }
            }
            return m;
        }
    }
}
