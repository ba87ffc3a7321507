package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** The command as a user sees it: exit status, one-line errors, no result file on rejection, round trips. */
class MainTest {
    /** pyarrow-written case files (conformance/golden/fixtures, made on the GPU machine). */
    static final Path FIXTURES = Path.of("..", "conformance", "golden", "fixtures");

    @TempDir
    Path dir;
    private RootAllocator root;
    private TensorScope scope;

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("cli-test", root);
    }

    @AfterEach
    void close() {
        scope.close();
        root.close();
    }

    record Result(int status, String out, String err) {
        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    static Result ss2d(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(status, out.toString(), err.toString());
    }

    /** Exit 2, exactly one line on stderr mentioning every detail, and no result file. */
    private void assertRejected(Result r, Path result, String... details) {
        assertEquals(2, r.status(), "exit status; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), "one line on stderr, got: " + r.err());
        for (String d : details) assertTrue(r.err().contains(d), "'" + d + "' in: " + r.err());
        if (result != null) assertFalse(Files.exists(result), "no result file after a rejection: " + result);
    }

    private Path crossScanCase(String name) {
        Path p = dir.resolve(name);
        try (Tensor x = RandomWeights.gaussian(scope, 21, 1.0, 2, 3, 4, 5)) {
            CaseFiles.writeCase(p, OpKind.CROSS_SCAN, CaseOptions.empty(), Map.of("x", x), root);
        }
        return p;
    }

    @Test
    void backendsListsEveryProviderWithStatus() {
        Result r = ss2d("backends");
        assertEquals(0, r.status(), r.err());
        for (Backends.Entry e : Backends.list()) {
            String line = r.out().lines().filter(l -> l.startsWith(e.name() + " ")).findFirst().orElseThrow(
                    () -> new AssertionError("backend " + e.name() + " missing from:\n" + r.out()));
            if (e.available()) {
                assertTrue(line.endsWith("available"), line);
            } else {
                assertTrue(line.contains("unavailable: " + e.availability().reason()), line);
            }
        }
        assertTrue(r.out().contains("reference"), r.out());
    }

    @Test
    void javaWrittenCaseRunsOnTheReferenceAndMatchesTheFacade() throws IOException {
        Path c = crossScanCase("x.arrow");
        Path out = dir.resolve("out.arrow");
        Result r = ss2d("run", c.toString(), "-o", out.toString(), "--backend", "reference");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("cross_scan on reference"), r.out());
        try (CaseFile in = CaseFile.open(scope, c);
             CaseFile res = CaseFile.open(scope, out);
             Tensor want = Ss2d.on("reference").crossScan(scope, in.tensor("x"))) {
            assertEquals("reference", res.metadata().get("ss2d.backend"));
            assertEquals("cross_scan", res.kind());
            assertArrayEquals(want.toFloatArray(), res.tensor("out").toFloatArray(), "reference cross_scan f32(2,3,4,5)");
        }
    }

    @Test
    void selectiveScanWithLastStateRunsOnAuto() throws IOException {
        Path c = dir.resolve("scan.arrow");
        Map<String, Tensor> cols = new LinkedHashMap<>();
        cols.put("u", RandomWeights.gaussian(scope, 1, 1.0, 2, 4, 9));
        cols.put("delta", RandomWeights.uniform(scope, 2, -1, 1, 2, 4, 9));
        cols.put("A", RandomWeights.uniform(scope, 3, -2, -0.1, 4, 3));
        cols.put("B", RandomWeights.gaussian(scope, 4, 1.0, 2, 3, 9));
        cols.put("C", RandomWeights.gaussian(scope, 5, 1.0, 2, 3, 9));
        cols.put("D", RandomWeights.gaussian(scope, 6, 1.0, 4));
        CaseFiles.writeCase(c, OpKind.SELECTIVE_SCAN, CaseOptions.of(Map.of("delta_softplus", true,
                "return_last_state", true)), cols, root);
        cols.values().forEach(Tensor::close);
        Path out = dir.resolve("scan-out.arrow");
        Result r = ss2d("run", c.toString(), "-o", out.toString());
        assertEquals(0, r.status(), r.err());
        try (CaseFile res = CaseFile.open(scope, out)) {
            assertEquals(List.of("out", "last_state"), res.columns());
            assertArrayEquals(new long[] {2, 4, 9}, res.tensor("out").shape());
            assertArrayEquals(new long[] {2, 4, 3}, res.tensor("last_state").shape());
            assertFalse(res.metadata().get("ss2d.device").isEmpty());
        }
    }

    @Test
    void selectiveScanBackwardRunsOnTheCpuAndMatchesTheFacade() throws IOException {
        Path c = dir.resolve("scan-bwd.arrow");
        Map<String, Tensor> cols = new LinkedHashMap<>();
        cols.put("u", RandomWeights.gaussian(scope, 11, 1.0, 2, 4, 9));
        cols.put("delta", RandomWeights.uniform(scope, 12, -1, 1, 2, 4, 9));
        cols.put("A", RandomWeights.uniform(scope, 13, -2, -0.1, 4, 3));
        cols.put("B", RandomWeights.gaussian(scope, 14, 1.0, 2, 3, 9));
        cols.put("C", RandomWeights.gaussian(scope, 15, 1.0, 4, 3));
        cols.put("D", RandomWeights.gaussian(scope, 16, 1.0, 4));
        cols.put("dout", RandomWeights.gaussian(scope, 17, 1.0, 2, 4, 9));
        cols.put("dlast_state", RandomWeights.gaussian(scope, 18, 1.0, 2, 4, 3));
        CaseFiles.writeCase(c, OpKind.SELECTIVE_SCAN_BACKWARD, CaseOptions.of(Map.of("delta_softplus", true)), cols, root);
        Path out = dir.resolve("scan-bwd-out.arrow");
        Result r = ss2d("run", c.toString(), "-o", out.toString(), "--backend", "cpu");
        assertEquals(0, r.status(), r.err());
        org.ss2d.ops.ScanArgs a = org.ss2d.ops.ScanArgs.builder(cols.get("u"), cols.get("delta"), cols.get("A"),
                cols.get("B"), cols.get("C")).D(cols.get("D")).deltaSoftplus(true).build();
        try (CaseFile res = CaseFile.open(scope, out);
             org.ss2d.ops.ScanGrads want = Ss2d.on("cpu").selectiveScanBackward(scope, a, cols.get("dout"),
                     cols.get("dlast_state"))) {
            assertEquals(List.of("grad.u", "grad.delta", "grad.A", "grad.B", "grad.C", "grad.D"), res.columns());
            Tensor[] w = want.tensors();
            for (int i = 0; i < 6; i++) {
                String name = org.ss2d.ops.ScanGrads.NAMES[i];
                assertArrayEquals(w[i].toFloatArray(), res.tensor(name).toFloatArray(), "cpu selective_scan_backward " + name);
            }
        }
        cols.values().forEach(Tensor::close);
    }

    @Test
    void halfScanCasesRunWithOutInTheirDtypeOrFloat32() throws IOException {
        for (org.ss2d.tensor.DType d : new org.ss2d.tensor.DType[] {org.ss2d.tensor.DType.BF16, org.ss2d.tensor.DType.F16}) {
            for (boolean oflex : new boolean[] {false, true}) {
                Path c = dir.resolve("half-" + d + oflex + ".arrow");
                Map<String, Tensor> cols = new LinkedHashMap<>();
                List<Tensor> made = new java.util.ArrayList<>();
                java.util.function.Function<Tensor, Tensor> half = t -> {
                    made.add(t);
                    Tensor h = scope.convert(t, d);
                    made.add(h);
                    return h;
                };
                cols.put("u", half.apply(RandomWeights.gaussian(scope, 1, 1.0, 2, 4, 40)));
                cols.put("delta", half.apply(RandomWeights.uniform(scope, 2, -1, 1, 2, 4, 40)));
                cols.put("A", RandomWeights.uniform(scope, 3, -2, -0.1, 4, 3));
                cols.put("B", half.apply(RandomWeights.gaussian(scope, 4, 1.0, 2, 3, 40)));
                cols.put("C", RandomWeights.gaussian(scope, 5, 1.0, 4, 3)); // constant C: float32
                cols.put("z", half.apply(RandomWeights.gaussian(scope, 6, 1.0, 2, 4, 40)));
                CaseFiles.writeCase(c, OpKind.SELECTIVE_SCAN, CaseOptions.of(Map.of("delta_softplus", true,
                        "return_last_state", true, "out_float32", oflex)), cols, root);
                made.forEach(Tensor::close);
                cols.get("A").close();
                cols.get("C").close();
                Path cpu = dir.resolve("half-cpu.arrow"), ref = dir.resolve("half-ref.arrow");
                Result r = ss2d("run", c.toString(), "-o", cpu.toString(), "--backend", "cpu");
                assertEquals(0, r.status(), r.err());
                assertEquals(0, ss2d("run", c.toString(), "-o", ref.toString(), "--backend", "reference").status());
                String want = oflex ? "float32" : d.arrowName();
                try (CaseFile a = CaseFile.open(scope, cpu); CaseFile b = CaseFile.open(scope, ref)) {
                    assertEquals(want, a.storedDtype("out"), d + " out_float32=" + oflex);
                    assertEquals("float32", a.storedDtype("last_state"));
                    double[] x = a.doubles("out"), y = b.doubles("out");
                    double max = 0, diff = 0;
                    for (int i = 0; i < x.length; i++) {
                        max = Math.max(max, Math.abs(y[i]));
                        diff = Math.max(diff, Math.abs(x[i] - y[i]));
                    }
                    // cpu and the float64 reference, each rounded to out's dtype: within two roundings of it
                    double tol = 2e-4 + 2 * org.ss2d.tensor.HalfFloats.unitRoundoff(oflex ? org.ss2d.tensor.DType.F32 : d);
                    assertTrue(diff <= tol * max, d + " out_float32=" + oflex + ": cpu vs reference " + diff + " > " + tol + " * " + max);
                }
            }
        }
    }

    @Test
    void halfBlockAndModelCasesWriteHalfColumns() throws IOException {
        org.ss2d.tensor.DType f16 = org.ss2d.tensor.DType.F16, bf16 = org.ss2d.tensor.DType.BF16;
        try (TensorScope s = scope.child("half-block-model")) {
            // ss2d in float16 from a float32 x: run rounds x once; out is an Arrow HalfFloat column
            org.ss2d.model.SS2DConfig cfg = new org.ss2d.model.SS2DConfig(8, 2, 1.5, 1, 3, true);
            org.ss2d.model.SS2DWeights w = RandomWeights.ss2d(s, cfg, 41);
            Map<String, Tensor> cols = new LinkedHashMap<>(w.asMap());
            Tensor x = RandomWeights.gaussian(s, 42, 1.0, 2, 8, 3, 5);
            cols.put("x", x);
            Path c = dir.resolve("ss2d-f16.arrow"), out = dir.resolve("ss2d-f16-out.arrow");
            CaseFiles.writeCase(c, OpKind.SS2D, CaseOptions.of(Map.of("dtype", "float16")), cols, root);
            Result r = ss2d("run", c.toString(), "-o", out.toString(), "--backend", "cpu");
            assertEquals(0, r.status(), r.err());
            // vmamba in bfloat16 from a bfloat16 x: logits are uint16 with logical_dtype = bfloat16
            org.ss2d.model.vmamba.VMambaConfig vc = org.ss2d.model.vmamba.VMambaConfig.named("vmamba_tiny_s1l8")
                    .withDims(8, 16, 24, 32).withDepths(1, 1, 1, 1).withNumClasses(5);
            org.ss2d.model.vmamba.VMambaWeights vw = org.ss2d.model.vmamba.VMambaRandomWeights.of(s, vc, 43);
            Map<String, Tensor> vcols = new LinkedHashMap<>(vw.params());
            Tensor img = s.convert(RandomWeights.gaussian(s, 44, 1.0, 1, 3, 32, 32), bf16);
            vcols.put("x", img);
            Path vcase = dir.resolve("vmamba-bf16.arrow"), vout = dir.resolve("vmamba-bf16-out.arrow");
            CaseFiles.writeCase(vcase, OpKind.VMAMBA, CaseOptions.of(Map.of("dtype", "bfloat16")), vcols, root);
            r = ss2d("run", vcase.toString(), "-o", vout.toString(), "--backend", "cpu");
            assertEquals(0, r.status(), r.err());
            try (CaseFile a = CaseFile.open(s, out); CaseFile b = CaseFile.open(s, vout)) {
                assertEquals("float16", a.storedDtype("out"));
                assertEquals(f16, a.tensor("out").dtype());
                assertEquals("bfloat16", b.storedDtype("logits"));
                assertEquals(bf16, b.tensor("logits").dtype());
                // the same bits as the facade's own dtype calls on the rounded inputs
                assertArrayEquals(Ss2d.on("cpu").ss2d(s, w, s.convert(x, f16), f16).toFloatArray(), a.tensor("out").toFloatArray(),
                        "cpu ss2d float16 out");
                try (org.ss2d.VMambaModel m = Ss2d.on("cpu").vmamba(vw, bf16)) {
                    assertArrayEquals(m.logits(s, img).toFloatArray(), b.tensor("logits").toFloatArray(), "cpu vmamba bfloat16 logits");
                }
            }
            // the block backward has no half precision: a one-line rejection naming the option, no file
            cols.put("dout", RandomWeights.gaussian(s, 45, 1.0, 2, 8, 3, 5));
            Path bwd = dir.resolve("ss2d-bwd-bf16.arrow"), never = dir.resolve("never.arrow");
            CaseFiles.writeCase(bwd, OpKind.SS2D_BACKWARD, CaseOptions.of(Map.of("dtype", "bfloat16")), cols, root);
            assertRejected(ss2d("run", bwd.toString(), "-o", never.toString(), "--backend", "cpu"), never,
                    "options.dtype: expected float32 (ss2d_backward has no half precision yet), found \"bfloat16\"");
            s.release();
        }
    }

    @Test
    void missingColumnIsRejectedInOneLineWithoutAFile() {
        Path c = crossScanCase("x.arrow");
        Path out = dir.resolve("never.arrow");
        assertRejected(ss2d("run", c.toString(), "-o", out.toString(), "--op", "cross_merge"), out, "ys", "no such column");
    }

    @Test
    void wrongShapeIsRejectedNamingTheArgument() throws IOException {
        Path c = dir.resolve("bad.arrow");
        try (Tensor x = RandomWeights.gaussian(scope, 22, 1.0, 3, 4, 5)) { // rank 3, not (batch, C, H, W)
            CaseFiles.writeCase(c, OpKind.CROSS_SCAN, CaseOptions.empty(), Map.of("x", x), root);
        }
        Path out = dir.resolve("never.arrow");
        assertRejected(ss2d("run", c.toString(), "-o", out.toString()), out, "x", "rank 4", "(3, 4, 5)");
    }

    @Test
    void crossMergeNeedsHAndW() {
        Path c = dir.resolve("m.arrow");
        try (Tensor ys = RandomWeights.gaussian(scope, 23, 1.0, 1, 4, 2, 6)) {
            CaseFiles.writeCase(c, OpKind.CROSS_MERGE, CaseOptions.of(Map.of("H", 2)), Map.of("ys", ys), root);
        }
        Path out = dir.resolve("never.arrow");
        assertRejected(ss2d("run", c.toString(), "-o", out.toString()), out, "options.W");
    }

    @Test
    void truncatedAndNonArrowFilesAreRejected() throws IOException {
        Path good = crossScanCase("g.arrow");
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.arrow");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 40));
        Path out = dir.resolve("never.arrow");
        assertRejected(ss2d("run", cut.toString(), "-o", out.toString()), out, "file", "truncated");
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "hello\n");
        assertRejected(ss2d("run", text.toString(), "-o", out.toString()), out, "file", "no Arrow file header");
        assertRejected(ss2d("run", dir.resolve("missing.arrow").toString(), "-o", out.toString()), out, "file", "no such file");
    }

    @Test
    void unknownOpListsTheKinds() {
        Path c = crossScanCase("x.arrow");
        Path out = dir.resolve("never.arrow");
        assertRejected(ss2d("run", c.toString(), "-o", out.toString(), "--op", "conv"), out, "--op",
                "selective_scan, cross_scan, cross_merge, ss2d, vss_block", "\"conv\"");
    }

    @Test
    void unknownBackendListsTheNames() {
        Path c = crossScanCase("x.arrow");
        Path out = dir.resolve("never.arrow");
        Result r = ss2d("run", c.toString(), "-o", out.toString(), "--backend", "tpu");
        assertRejected(r, out, "--backend", "tpu", "reference");
        for (String n : Backends.names()) assertTrue(r.err().contains(n), n + " listed in: " + r.err());
    }

    @Test
    void aForcedUnavailableBackendIsRejectedWithItsReasonNeverReplaced() {
        Backends.list().stream().filter(e -> !e.available()).findFirst().ifPresent(e -> {
            Path out = dir.resolve("never.arrow");
            assertRejected(ss2d("run", crossScanCase("x.arrow").toString(), "-o", out.toString(), "--backend", e.name()),
                    out, "--backend", e.name(), e.availability().reason());
        });
    }

    @Test
    void usageErrorsAreOneLineToo() {
        assertRejected(ss2d("run", "x.arrow"), null, "-o");
        assertRejected(ss2d("frobnicate"), null, "frobnicate");
        Path out = dir.resolve("nodir").resolve("r.arrow");
        assertRejected(ss2d("run", crossScanCase("x.arrow").toString(), "-o", out.toString()), out, "-o", "does not exist");
    }

    @Test
    void conformanceRejectsUnknownBackendsAndMissingFolders() {
        assertRejected(ss2d("conformance", "--backend", "tpu"), null, "--backend", "tpu", "reference");
        assertRejected(ss2d("conformance", "--cases", dir.resolve("nope").toString()), null, "--cases", "no such folder");
    }

    @Test
    void conformanceRunsAFolderOfPyarrowCaseFiles() throws IOException {
        Path json = dir.resolve("m.json");
        Result r = ss2d("conformance", "--cases", FIXTURES.toString(), "--backend", "reference", "--json", json.toString());
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("PASSED"), r.out());
        assertTrue(Files.readString(json).contains("\"passed\": true"), Files.readString(json));
    }

    @Test
    void pyarrowWrittenCasesRunAndMatchTheirExpectedOutputs() throws IOException {
        for (String name : List.of("scan_pyarrow.arrow", "scan_pyarrow_plain_lists.arrow")) {
            Path c = FIXTURES.resolve(name);
            Path out = dir.resolve("r-" + name);
            Result r = ss2d("run", c.toString(), "-o", out.toString());
            assertEquals(0, r.status(), name + ": " + r.err());
            try (CaseFile in = CaseFile.open(scope, c);
                 CaseFile res = CaseFile.open(scope, out)) {
                assertEquals("selective_scan", res.kind(), name);
                for (String col : res.columns()) {
                    assertTrue(in.has(col), name + ": the fixture carries expected '" + col + "'");
                    float[] want = in.tensor(col).toFloatArray();
                    float[] got = res.tensor(col).toFloatArray();
                    double[] e = DemoCommand.errors(want, got);
                    // float32 kernel vs PyTorch float64 rounded to float32 (the conformance suite owns the policy)
                    assertTrue(e[1] <= 1e-4, name + " " + col + " on " + res.metadata().get("ss2d.backend")
                            + " f32" + java.util.Arrays.toString(res.tensor(col).shape()) + ": rel err " + e[1]);
                }
            }
        }
    }

    @Test
    void smallDemoRunsAndAgreesWithTheReference() {
        Result r = ss2d("demo", "--grid", "6", "--batch", "2", "--runs", "1", "--warmup", "0", "--warmup-seconds", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("VS REFERENCE"), r.out());
        assertTrue(r.out().contains("agrees") || r.out().contains("reference*"), r.out());
        assertFalse(r.out().contains("DIFFERS"), r.out());
    }
}
