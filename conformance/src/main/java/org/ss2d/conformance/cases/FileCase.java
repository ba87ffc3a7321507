package org.ss2d.conformance.cases;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpCall;
import org.ss2d.interop.cases.OpCalls;
import org.ss2d.interop.cases.OpKind;
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
import org.ss2d.validate.Validator;

/**
 * A case read from a case file, through the same reader and the same {@link OpKind} runners as
 * {@code ss2d run}, so the suite accepts and rejects exactly what {@code run} does. Expected outputs
 * come from the file's extra columns when it has them ({@code out}, {@code last_state}; {@code xs} /
 * {@code y} for cross cases), else from the float64 reference. A cross file holding both {@code x}
 * and {@code ys} is checked both ways.
 *
 * <p>The file is opened afresh by every {@link #prepare}, inside the executor's isolation, so a file
 * that breaks the contract is that case's rejection and nothing else's.
 */
public final class FileCase implements ConformanceCase {
    private static final Capabilities ANY = new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32, DType.F16, DType.BF16),
            false, "-", 0, false, 0, Set.of(DType.F32, DType.F16, DType.BF16));

    private final Path path;
    private final byte[] bytes;
    private volatile OpKind kind;
    private volatile String shape = "?";
    private volatile int dstate;
    private volatile DType dtype = DType.F32;

    /** A case file on disk. */
    public FileCase(Path path) {
        this(path, null);
    }

    /** A case file held in memory (a class-path resource); {@code label} names it. */
    public FileCase(Path label, byte[] bytes) {
        this.path = label;
        this.bytes = bytes;
    }

    public Path path() {
        return path;
    }

    /** Opens the file in {@code scope} (the caller closes it). */
    public CaseFile open(TensorScope scope) {
        return bytes == null ? CaseFile.open(scope, path) : CaseFile.open(scope, path, bytes);
    }

    @Override
    public String id() {
        return "file " + path;
    }

    /** The file's kind; reading it opens the file once (a file that breaks the contract throws its rejection). */
    @Override
    public OpKind op() {
        OpKind k = kind;
        if (k == null) {
            try (TensorScope s = TensorScope.root("peek " + path.getFileName()); CaseFile f = open(s)) {
                k = CaseRunner.kindOf(f, null);
            }
            kind = k;
        }
        return k;
    }

    @Override
    public DType dtype() {
        return dtype; // the scan's input dtype or a block's or model's dtype option, known once the file was prepared
    }

    @Override
    public String shape() {
        return shape;
    }

    @Override
    public int dstate() {
        return dstate;
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        CaseFile f = open(arena);
        try {
            return new Run(f);
        } catch (RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    /** The float64 reference's outputs on this file's inputs (as rounded to float32 on load). */
    public Map<String, Expected> reference(TensorScope arena) {
        try (Run r = new Run(open(arena))) {
            return r.reference();
        }
    }

    /** The expected columns this file carries, by output name. */
    public Map<String, Expected> golden(TensorScope arena) {
        try (Run r = new Run(open(arena))) {
            return r.golden();
        }
    }

    /** One opened file: the primary call (and the other cross direction when the file holds both). */
    private final class Run implements Prepared {
        private final CaseFile file;
        private final Map<String, OpCall> calls = new LinkedHashMap<>();

        Run(CaseFile file) {
            this.file = file;
            OpKind k = CaseRunner.kindOf(file, null);
            kind = k;
            OpCall main = k.prepare(file);
            calls.put("out", main);
            if (k == OpKind.CROSS_SCAN && file.has("ys") && file.has("y")) calls.put("y", OpKind.CROSS_MERGE.prepare(file));
            if (k == OpKind.CROSS_MERGE && file.has("x") && file.has("xs")) calls.put("xs", OpKind.CROSS_SCAN.prepare(file));
            describe(main);
        }

        private void describe(OpCall c) {
            switch (c) {
                case OpCalls.Scan s -> {
                    shape = "u" + Shapes.format(s.args().u().shape());
                    dtype = s.args().u().dtype();
                    dstate = s.args().A().rank() == 2 ? (int) s.args().A().dim(1) : 0;
                }
                case org.ss2d.interop.cases.BackwardCalls.ScanBackward s -> {
                    shape = "u" + Shapes.format(s.args().u().shape());
                    dstate = s.args().A().rank() == 2 ? (int) s.args().A().dim(1) : 0;
                }
                case OpCalls.CrossMerge m -> shape = "ys" + Shapes.format(m.ys().shape());
                case OpCalls.CrossScan x -> shape = "x" + Shapes.format(x.x().shape());
                case OpCalls.Ss2dBlock b -> {
                    shape = "x" + Shapes.format(b.x().shape());
                    dtype = b.dtype();
                    dstate = b.weights().config().dState();
                }
                case OpCalls.VssBlock b -> {
                    shape = "x" + Shapes.format(b.x().shape());
                    dtype = b.dtype();
                    dstate = b.weights().config().dState();
                }
                case org.ss2d.interop.cases.ModelCalls.VMamba m -> {
                    shape = "x" + Shapes.format(m.x().shape());
                    dtype = m.dtype();
                }
                default -> shape = c.kind().key();
            }
        }

        @Override
        public Map<String, Expected> expected() {
            Map<String, Expected> m = reference();
            m.putAll(golden());
            return m;
        }

        /** Expected columns the file carries (a column that is no float tensor is a note, and ignored). */
        Map<String, Expected> golden() {
            Map<String, Expected> m = new LinkedHashMap<>();
            OpKind k = kind;
            switch (k) {
                case SELECTIVE_SCAN -> {
                    put(m, "out", "out", k);
                    if (calls.get("out").outputShapes().containsKey("last_state")) put(m, "last_state", "last_state", k);
                }
                case CROSS_SCAN -> {
                    if (!put(m, "out", "out", k)) put(m, "out", "xs", k);
                    if (calls.containsKey("y")) put(m, "y", "y", OpKind.CROSS_MERGE);
                }
                case CROSS_MERGE -> {
                    if (!put(m, "out", "out", k)) put(m, "out", "y", k);
                    if (calls.containsKey("xs")) put(m, "xs", "xs", OpKind.CROSS_SCAN);
                }
                // Every other kind: each result column by its own name (out; logits, features.i; x).
                default -> {
                    for (String o : calls.get("out").outputShapes().keySet()) put(m, o, o, k);
                }
            }
            return m;
        }

        private boolean put(Map<String, Expected> m, String output, String column, OpKind op) {
            if (!file.has(column)) return false;
            try {
                OpCall c = calls.get("out");
                m.put(output, new Expected(file.doubles(column), op, c.outputDtype(output), blocks(c, output)));
                return true;
            } catch (org.ss2d.validate.Ss2dArgumentException e) {
                return false; // not a tensor column: the contract says to ignore it
            }
        }

        /** The float64 reference on every call (its checks reject what the facade would reject). */
        Map<String, Expected> reference() {
            Map<String, Expected> m = new LinkedHashMap<>();
            for (var e : calls.entrySet()) {
                OpCall c = e.getValue();
                Map<String, double[]> r = float64(c);
                for (var o : r.entrySet()) {
                    m.put(o.getKey().equals("out") ? e.getKey() : o.getKey(),
                            new Expected(o.getValue(), c.kind(), c.outputDtype(o.getKey()), blocks(c, o.getKey())));
                }
            }
            return m;
        }

        /** Blocks on the path to a model's output (its half budget grows with them); 1 for every other op. */
        private static int blocks(OpCall c, String output) {
            if (!(c instanceof org.ss2d.interop.cases.ModelCalls.VMamba v)) return 1;
            int[] depths = v.weights().config().depths();
            int stage = output.startsWith("features.") ? Integer.parseInt(output.substring("features.".length()))
                    : depths.length - 1; // logits: through every stage
            return org.ss2d.reference.HalfRounding.blocksThrough(depths, stage);
        }

        private Map<String, double[]> float64(OpCall c) {
            Map<String, double[]> m = new LinkedHashMap<>();
            switch (c) {
                case OpCalls.Scan s -> {
                    ScanArgs a = s.args();
                    ScanShape sh = Validator.selectiveScan(a, ANY, null);
                    // the oracle keeps its outputs in float64: a file asking for absurd memory is rejected here too
                    org.ss2d.validate.MemoryBudget.checkHost("selective_scan (float64 reference)",
                            "out", org.ss2d.validate.MemoryBudget.product(sh.batch(), sh.dim(), sh.seqlen(), 8),
                            "last_state", a.returnLastState()
                                    ? org.ss2d.validate.MemoryBudget.product(sh.batch(), sh.dim(), sh.dstate(), 8) : 0L);
                    ScanRef.Result r = ScanRef.run(ScanRef.Problem.of(a, sh));
                    m.put("out", r.out());
                    if (a.returnLastState()) m.put("last_state", r.lastState());
                }
                case org.ss2d.interop.cases.BackwardCalls.ScanBackward s -> {
                    ScanArgs a = s.args();
                    ScanShape sh = Validator.selectiveScanBackward(a, s.dout(), s.dLastState(), ANY, null);
                    // the oracle keeps a gradient per input in float64 (u-sized ones dominate)
                    org.ss2d.validate.MemoryBudget.checkHost("selective_scan_backward (float64 reference)", "gradients",
                            org.ss2d.validate.MemoryBudget.product(sh.batch(), sh.dim(), sh.seqlen(), 8, 4));
                    double[][] g = org.ss2d.reference.ScanBackwardRef.run(ScanRef.Problem.of(a, sh), Doubles.of(s.dout()),
                            s.dLastState() == null ? null : Doubles.of(s.dLastState())).inOrder();
                    for (int i = 0; i < g.length; i++) if (g[i] != null) m.put(org.ss2d.ops.ScanGrads.NAMES[i], g[i]);
                }
                case OpCalls.CrossScan x -> {
                    Validator.crossScan(x.x(), ANY);
                    Tensor t = x.x();
                    m.put("out", CrossRef.scan(Doubles.of(t), (int) t.dim(0), (int) t.dim(1), (int) t.dim(2), (int) t.dim(3)));
                }
                case OpCalls.CrossMerge y -> {
                    Validator.crossMerge(y.ys(), y.h(), y.w(), ANY);
                    Tensor t = y.ys();
                    m.put("out", CrossRef.merge(Doubles.of(t), (int) t.dim(0), (int) t.dim(2), (int) y.h(), (int) y.w()));
                }
                // In a half dtype: from x as rounded on load, rounding where the backends store that dtype
                case OpCalls.Ss2dBlock b -> {
                    Validator.ss2d(b.weights(), b.x(), b.dtype(), ANY, null);
                    Tensor x = b.x();
                    m.put("out", SS2DRef.forward(SS2DRef.Params.of(b.weights()), Doubles.of(x), (int) x.dim(0),
                            (int) x.dim(2), (int) x.dim(3), b.dtype()));
                }
                case OpCalls.VssBlock b -> {
                    Validator.vssBlock(b.weights(), b.x(), b.dtype(), ANY, null);
                    Tensor x = b.x();
                    m.put("out", VSSRef.forward(VSSRef.Params.of(b.weights()), Doubles.of(x), (int) x.dim(0),
                            (int) x.dim(2), (int) x.dim(3), b.dtype()));
                }
                // A half model's expected values must not be rounded to its dtype (the reference backend's store would
                // spend the output's half-ulp twice), so the float64 model runs here, unrounded, on x as rounded on load.
                case org.ss2d.interop.cases.ModelCalls.VMamba v when v.dtype().isHalf() -> {
                    Tensor x = v.x();
                    org.ss2d.model.vmamba.VMambaConfig cfg = v.weights().config();
                    int[][] g = Validator.vmambaInput(cfg, x, v.dtype(), ANY, null);
                    long widest = 0;
                    for (int i = 0; i < org.ss2d.model.vmamba.VMambaConfig.STAGES; i++) {
                        widest = Math.max(widest, org.ss2d.validate.MemoryBudget.product(cfg.ss2d(i).dInner(), g[i][0], g[i][1]));
                    }
                    // the oracle holds a few dozen float64 maps of a stage's inner width (the scan's four routes and its
                    // inputs among them) at a time
                    org.ss2d.validate.MemoryBudget.checkHost("vmamba (float64 reference)", "maps",
                            org.ss2d.validate.MemoryBudget.product(32, x.dim(0), widest, 8));
                    org.ss2d.reference.VMambaRef.Result r = org.ss2d.reference.VMambaRef.forward(v.weights(), Doubles.of(x),
                            (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), v.dtype());
                    if (v.featuresOnly()) {
                        for (int i = 0; i < r.features().size(); i++) m.put("features." + i, r.features().get(i));
                    } else {
                        m.put("logits", r.logits());
                    }
                }
                default -> {
                    // A kind without a float64 formulation here: the reference backend (float64 inside,
                    // rounded once at the store) through the same facade call.
                    try (TensorScope s = TensorScope.root("reference " + c.kind())) {
                        for (var e : c.run(Ss2d.on(Backends.get("reference")), s).entrySet()) {
                            m.put(e.getKey(), Doubles.of(e.getValue()));
                            e.getValue().close();
                        }
                    }
                }
            }
            return m;
        }

        @Override
        public Map<String, float[]> run(Ss2d ss) {
            Map<String, float[]> m = new LinkedHashMap<>();
            try (TensorScope outs = TensorScope.root("outputs")) {
                for (var e : calls.entrySet()) {
                    OpCall c = e.getValue();
                    Map<String, Tensor> o = new LinkedHashMap<>();
                    try {
                        for (var s : c.outputShapes().entrySet()) {
                            o.put(s.getKey(), Runs.poisoned(outs, s.getKey(), c.outputDtype(s.getKey()), s.getValue()));
                        }
                        c.runInto(ss, o);
                        for (var t : o.entrySet()) {
                            m.put(t.getKey().equals("out") ? e.getKey() : t.getKey(), t.getValue().toFloatArray());
                        }
                    } finally {
                        o.values().forEach(Tensor::close);
                    }
                }
            }
            return m;
        }

        /**
         * A whole model picks its backend itself (VMambaModel), so the call reports it; a host-only kind
         * (preprocess_image) runs the same Java code whichever backend is asked, which is then the answer.
         */
        @Override
        public String ranOn(Ss2d ss, String asked) {
            org.ss2d.spi.Backend b = calls.get("out").ranOn(ss);
            if (b != null) return b.name();
            return calls.get("out").kind() == OpKind.PREPROCESS_IMAGE ? asked : null;
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
