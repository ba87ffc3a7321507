package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ss2d.Ss2d;
import org.ss2d.conformance.cases.FileCase;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VMambaRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Case files of {@code ss2d}, {@code vss_block} and {@code vmamba} with the {@code dtype} option in bfloat16 and
 * float16, written here from seeded random inputs and VMamba-like weights, x stored in float32 or already in the
 * dtype, the weights in float32 or in the dtype. Each is run (1) on every backend under test by the suite's own
 * machinery ({@link FileCase}: the same reader as {@code ss2d run}, outputs poisoned with NaN and allocated in the
 * dtype) and (2) through {@link CaseRunner#run}, as {@code ss2d run} runs it, on cpu and reference, where the outputs
 * must come back in the dtype and agree with the float64 reference computed here, independently of the reader, from
 * x rounded to the dtype and the weights as stored; both within {@link Tolerances#relative}'s dtype axis (the float32
 * budget plus what rounding between steps costs: u (1 + 2 sqrt(D)) for an output reached through D blocks).
 */
class HalfCaseFilesTest {
    /** One case file: kind, dtype, where x and the weights are stored, and for vmamba whether features are asked. */
    record Spec(OpKind kind, DType dtype, boolean xInDtype, boolean weightsInDtype, boolean featuresOnly, long seed) {
        String label() {
            return kind.key() + "-" + dtype.arrowName() + "-x-" + (xInDtype ? dtype.arrowName() : "float32") + "-weights-"
                    + (weightsInDtype ? dtype.arrowName() : "float32") + (featuresOnly ? "-features" : "") + "-seed" + seed
                    + ".arrow";
        }
    }

    static final List<Spec> SPECS = List.of(
            new Spec(OpKind.SS2D, DType.BF16, false, false, false, 101),
            new Spec(OpKind.SS2D, DType.F16, true, true, false, 102),
            new Spec(OpKind.VSS_BLOCK, DType.F16, false, false, false, 103),
            new Spec(OpKind.VSS_BLOCK, DType.BF16, true, true, false, 104),
            new Spec(OpKind.VMAMBA, DType.BF16, false, false, false, 105),
            new Spec(OpKind.VMAMBA, DType.F16, true, false, true, 106));

    /** d_model 8, d_state 2, ssm_ratio 1.5 (d_inner 12), dt_rank 1, d_conv 3, conv bias: odd widths on purpose. */
    private static final SS2DConfig BLOCK = new SS2DConfig(8, 2, 1.5, 1, 3, true);

    /** The models' blocks per stage. */
    private static final int[] DEPTHS = {1, 1, 1, 1};

    /** Blocks on the path to an output (a block is one). */
    static int blocks(Spec spec, String output) {
        if (spec.kind() != OpKind.VMAMBA) return 1;
        return org.ss2d.reference.HalfRounding.blocksThrough(DEPTHS,
                output.startsWith("features.") ? Integer.parseInt(output.substring("features.".length())) : 3);
    }

    /** The written file's columns and options, and the float64 outputs computed from what the file holds. */
    record Built(Map<String, Tensor> columns, CaseOptions options, Map<String, double[]> expected) {}

    static Built build(TensorScope s, Spec spec) {
        DType t = spec.dtype();
        Map<String, Tensor> cols = new LinkedHashMap<>();
        Map<String, double[]> want = new LinkedHashMap<>();
        Map<String, Object> opts = new LinkedHashMap<>();
        opts.put("dtype", t.arrowName());
        switch (spec.kind()) {
            case SS2D -> {
                Map<String, Tensor> stored = stored(s, RandomWeights.ss2d(s, BLOCK, spec.seed()).asMap(), spec);
                Tensor x = input(s, cols, spec, 2, 8, 5, 6);
                cols.putAll(stored);
                SS2DWeights seen = SS2DWeights.fromStateDict(BLOCK, widened(s, stored), "");
                want.put("out", SS2DRef.forward(SS2DRef.Params.of(seen), Doubles.of(x), 2, 5, 6, t));
            }
            case VSS_BLOCK -> {
                Map<String, Tensor> stored = stored(s, RandomWeights.vss(s, BLOCK, 2.0, spec.seed()).asMap(), spec);
                Tensor x = input(s, cols, spec, 1, 8, 4, 5);
                cols.putAll(stored);
                VSSWeights seen = VSSWeights.fromStateDict(BLOCK, 2.0, widened(s, stored), "");
                want.put("out", VSSRef.forward(VSSRef.Params.of(seen), Doubles.of(x), 1, 4, 5, t));
            }
            case VMAMBA -> {
                String variant = spec.featuresOnly() ? "vanilla_vmamba_tiny" : "vmamba_tiny_s1l8";
                VMambaConfig c = VMambaConfig.named(variant).withDims(8, 16, 24, 32).withDepths(DEPTHS).withNumClasses(6);
                VMambaWeights drawn = VMambaRandomWeights.of(s, c, spec.seed());
                if (spec.featuresOnly()) drawn = VMambaRandomWeights.withOutNorms(s, drawn, spec.seed() + 1);
                Map<String, Tensor> stored = stored(s, drawn.params(), spec);
                Tensor x = input(s, cols, spec, 1, 3, 32, 32);
                cols.putAll(stored);
                VMambaRef.Result r = VMambaRef.forward(VMambaWeights.fromStateDict(widened(s, stored)), Doubles.of(x), 1, 32,
                        32, t);
                if (spec.featuresOnly()) {
                    opts.put("features_only", true);
                    for (int i = 0; i < 4; i++) want.put("features." + i, r.features().get(i));
                } else {
                    want.put("logits", r.logits());
                }
            }
            default -> throw new IllegalArgumentException(spec.kind().key());
        }
        return new Built(cols, CaseOptions.of(opts), want);
    }

    /** x drawn in float32 and put into the file as the spec says; returns x rounded to the dtype (what the op reads). */
    private static Tensor input(TensorScope s, Map<String, Tensor> cols, Spec spec, long... shape) {
        Tensor drawn = RandomWeights.gaussian(s, spec.seed() * 7 + 1, 1.0, shape);
        Tensor rounded = s.convert(drawn, spec.dtype());
        cols.put("x", spec.xInDtype() ? rounded : drawn);
        return rounded;
    }

    private static Map<String, Tensor> stored(TensorScope s, Map<String, Tensor> params, Spec spec) {
        if (!spec.weightsInDtype()) return params;
        Map<String, Tensor> m = new LinkedHashMap<>();
        params.forEach((k, v) -> m.put(k, s.convert(v, spec.dtype())));
        return m;
    }

    private static Map<String, Tensor> widened(TensorScope s, Map<String, Tensor> stored) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        stored.forEach((k, v) -> m.put(k, v.dtype() == DType.F32 ? v : s.convert(v, DType.F32)));
        return m;
    }

    /** The spec's case file as bytes (written through the engine's own writer, as a user's tool would). */
    static byte[] file(Spec spec) {
        TensorScope s = TensorScope.root("half case " + spec.label());
        try {
            Built b = build(s, spec);
            Path tmp = Files.createTempFile("ss2d-half-case-", ".arrow");
            try {
                CaseFiles.writeCase(tmp, spec.kind(), b.options(), b.columns(), s.allocator());
                return Files.readAllBytes(tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            s.release();
        }
    }

    @TestFactory
    Stream<DynamicNode> halfBlockAndModelCaseFilesOnEveryBackend() {
        List<FileCase> cases = new ArrayList<>();
        for (Spec s : SPECS) cases.add(new FileCase(Path.of("half", s.label()), file(s)));
        return Targets.perBackend("ss2d/vss_block/vmamba case files in bfloat16/float16", cases);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "reference"})
    void caseRunnerGivesOutputsInTheDtypeWithinTheBudget(String backend) {
        for (Spec spec : SPECS) {
            TensorScope s = TensorScope.root("half case run " + spec.label());
            try {
                Built b = build(s, spec);
                Path tmp = Files.createTempFile("ss2d-half-run-", ".arrow");
                try {
                    CaseFiles.writeCase(tmp, spec.kind(), b.options(), b.columns(), s.allocator());
                    try (CaseFile f = CaseFile.open(s, tmp);
                         CaseRunner.Outcome o = CaseRunner.run(f, CaseRunner.kindOf(f, null), Ss2d.on(backend), s)) {
                        assertEquals(backend, o.backend(), spec.label());
                        assertEquals(b.expected().keySet(), o.outputs().keySet(), spec.label());
                        for (var e : o.outputs().entrySet()) {
                            String who = "[" + backend + "] " + spec.label() + " " + e.getKey();
                            double tol = Tolerances.relative(spec.kind(), spec.dtype(), Tolerances.Gemm.FLOAT32,
                                    blocks(spec, e.getKey()));
                            assertEquals(spec.dtype(), e.getValue().dtype(), who + " dtype");
                            Comparison c = Tolerances.compare(b.expected().get(e.getKey()), e.getValue().toFloatArray(), tol,
                                    spec.dtype());
                            System.err.println("[ss2d] " + who + ": " + c.detail());
                            assertTrue(c.pass(), who + ": " + c.detail());
                        }
                    }
                } finally {
                    Files.deleteIfExists(tmp);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                s.release();
            }
        }
    }
}
