package org.ss2d.interop.cases;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** Reading case files per case-files.md, and every way a file can be rejected. */
class CaseFileTest {
    @TempDir
    Path dir;
    private BufferAllocator root;
    private TensorScope scope;

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("case-test", root);
    }

    @AfterEach
    void close() {
        scope.close();
        root.close(); // fails the test on any leaked Arrow buffer
    }

    static double[] random(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextGaussian();
        return v;
    }

    private Path write(String name, Map<String, String> md, Consumer<ArrowFixtures> columns) throws IOException {
        ArrowFixtures fx = new ArrowFixtures(root);
        columns.accept(fx);
        Path p = dir.resolve(name);
        fx.write(p, md, false);
        return p;
    }

    private Ss2dArgumentException rejected(Path p, String column) {
        return assertThrows(Ss2dArgumentException.class, () -> {
            try (CaseFile f = CaseFile.open(scope, p)) {
                f.tensor(column);
            }
        });
    }

    @Test
    void extensionFloat32ColumnIsReadExactly() throws IOException {
        double[] v = random(1, 24);
        Path p = write("a.arrow", Map.of("ss2d.kind", "cross_scan"), fx -> fx.f32("x", v, 1, 2, 3, 4));
        try (CaseFile f = CaseFile.open(scope, p)) {
            Tensor x = f.tensor("x");
            assertArrayEquals(new long[] {1, 2, 3, 4}, x.shape());
            for (int i = 0; i < v.length; i++) assertEquals((float) v[i], x.getFloat(i), "x f32(1,2,3,4) element " + i);
            assertEquals("cross_scan", f.kind());
        }
    }

    @Test
    void plainListWithShapeMetadataAndFloat64IsRoundedToFloat32() throws IOException {
        double[] v = random(2, 6);
        v[0] = 0.1;
        Path p = write("b.arrow", Map.of(), fx -> fx.column("u", v, true, null, "[2, 3]"));
        try (CaseFile f = CaseFile.open(scope, p)) {
            Tensor u = f.tensor("u");
            assertArrayEquals(new long[] {2, 3}, u.shape());
            for (int i = 0; i < v.length; i++) assertEquals((float) v[i], u.getFloat(i), "u f64->f32 (2,3) element " + i);
        }
    }

    @Test
    void extensionAndMetadataShapesMustAgree() throws IOException {
        double[] v = random(3, 6);
        Path ok = write("ok.arrow", Map.of(), fx -> fx.column("A", v, false, new long[] {2, 3}, "[2,3]"));
        try (CaseFile f = CaseFile.open(scope, ok)) {
            assertArrayEquals(new long[] {2, 3}, f.tensor("A").shape());
        }
        Path bad = write("bad.arrow", Map.of(), fx -> fx.column("A", v, false, new long[] {2, 3}, "[3, 2]"));
        Ss2dArgumentException e = rejected(bad, "A");
        assertEquals("A", e.argument());
        assertTrue(e.getMessage().contains("(2, 3)") && e.getMessage().contains("(3, 2)"), e.getMessage());
    }

    @Test
    void plainListWithoutShapeOrWithAWrongOneIsRejected() throws IOException {
        double[] v = random(4, 6);
        Ss2dArgumentException e = rejected(write("n.arrow", Map.of(), fx -> fx.column("B", v, false, null, null)), "B");
        assertEquals("B", e.argument());
        assertTrue(e.getMessage().contains("shape"), e.getMessage());
        e = rejected(write("w.arrow", Map.of(), fx -> fx.column("B", v, false, null, "[4, 2]")), "B");
        assertTrue(e.getMessage().contains("6 elements") && e.getMessage().contains("(4, 2)"), e.getMessage());
        e = rejected(write("j.arrow", Map.of(), fx -> fx.column("B", v, false, null, "{shape}")), "B");
        assertEquals("B", e.argument());
    }

    @Test
    void missingColumnIsNamedWithTheColumnsThatExist() throws IOException {
        Path p = write("m.arrow", Map.of(), fx -> fx.f32("x", random(5, 4), 2, 2));
        Ss2dArgumentException e = rejected(p, "ys");
        assertEquals("ys", e.argument());
        assertTrue(e.getMessage().contains("no such column") && e.getMessage().contains("x"), e.getMessage());
    }

    @Test
    void unknownColumnsAndMetadataAreIgnored() throws IOException {
        Path p = write("u.arrow", Map.of("ss2d.kind", "cross_scan", "ss2d.options", "{\"note\": 1, \"H\": 2}",
                "who", "pyarrow"), fx -> fx.f32("x", random(6, 8), 1, 2, 2, 2).text("comment", "hello")
                .column("expected", random(7, 3), true, null, null));
        try (CaseFile f = CaseFile.open(scope, p)) {
            assertEquals(List.of("x", "comment", "expected"), f.columns());
            assertEquals(8, f.tensor("x").elementCount());
            assertEquals(2L, f.options().integer("H"));
        }
    }

    @Test
    void complexTensorsAreRejectedCleanly() throws IOException {
        Path p = write("c.arrow", Map.of(), fx -> fx.columnMeta("A", random(8, 8), false, null,
                Map.of(CaseFile.SHAPE_KEY, "[2, 2, 2]", CaseFile.LOGICAL_DTYPE_KEY, "complex128")));
        Ss2dArgumentException e = rejected(p, "A");
        assertEquals("A", e.argument());
        assertTrue(e.getMessage().contains("complex128") && e.getMessage().contains("not supported"), e.getMessage());
    }

    @Test
    void badOptionsAreNamed() throws IOException {
        Path p = write("o.arrow", Map.of("ss2d.options", "{not json"), fx -> fx.f32("x", random(9, 4), 1, 1, 2, 2));
        try (CaseFile f = CaseFile.open(scope, p)) {
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, f::options);
            assertEquals("ss2d.options", e.argument());
        }
        CaseOptions o = CaseOptions.parse("{\"H\": \"four\", \"delta_softplus\": 1, \"W\": 3.0}");
        assertEquals("options.H", assertThrows(Ss2dArgumentException.class, () -> o.integer("H")).argument());
        assertEquals("options.delta_softplus",
                assertThrows(Ss2dArgumentException.class, () -> o.bool("delta_softplus", false)).argument());
        assertEquals(3L, o.integer("W"));
        CaseOptions py = CaseOptions.parse("{\"ssm_ratio\": NaN, \"H\": Infinity, \"mlp_ratio\": -Infinity}");
        Ss2dArgumentException nan = assertThrows(Ss2dArgumentException.class, () -> py.number("ssm_ratio"));
        assertEquals("options.ssm_ratio", nan.argument());
        assertTrue(nan.getMessage().contains("finite") && nan.getMessage().contains("NaN"), nan.getMessage());
        assertEquals("options.H", assertThrows(Ss2dArgumentException.class, () -> py.integer("H")).argument());
        assertEquals("options.mlp_ratio", assertThrows(Ss2dArgumentException.class, () -> py.number("mlp_ratio")).argument());
    }

    @Test
    void nonArrowTruncatedStreamEmptyAndMissingFilesAreRejectedAsFile() throws IOException {
        Path text = dir.resolve("t.arrow");
        Files.writeString(text, "u,delta\n1,2\n");
        assertFileRejected(text, "no Arrow file header");

        Path good = write("g.arrow", Map.of(), fx -> fx.f32("x", random(10, 64), 1, 4, 4, 4));
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.arrow");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length / 2));
        assertFileRejected(cut, "truncated");

        ArrowFixtures fx = new ArrowFixtures(root);
        fx.f32("x", random(11, 4), 2, 2);
        Path stream = dir.resolve("s.arrow");
        fx.write(stream, Map.of(), true);
        assertFileRejected(stream, "stream");

        Path empty = dir.resolve("e.arrow");
        Files.write(empty, new byte[0]);
        assertFileRejected(empty, "0 bytes");

        assertFileRejected(dir.resolve("nope.arrow"), "no such file");

        // A file whose middle is damaged but whose ends look right.
        byte[] broken = all.clone();
        for (int i = 8; i < broken.length - 8; i++) broken[i] = (byte) 0x5A;
        Path damaged = dir.resolve("d.arrow");
        Files.write(damaged, broken);
        assertFileRejected(damaged, "");
    }

    private void assertFileRejected(Path p, String detail) {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> CaseFile.open(scope, p).close());
        assertEquals("file", e.argument(), e.getMessage());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void javaWrittenCaseRoundTripsThroughTheRunnerAndResultFile() throws IOException {
        double[] xs = random(12, 2 * 3 * 4 * 5);
        float[] xf = new float[xs.length];
        for (int i = 0; i < xs.length; i++) xf[i] = (float) xs[i];
        Path casePath = dir.resolve("case.arrow");
        Path resultPath = dir.resolve("result.arrow");
        try (Tensor x = scope.fromArray(xf, 2, 3, 4, 5)) {
            CaseFiles.writeCase(casePath, OpKind.CROSS_SCAN, CaseOptions.of(Map.of("note", "java")), Map.of("x", x), root);
        }
        try (CaseFile f = CaseFile.open(scope, casePath)) {
            assertArrayEquals(xf, f.tensor("x").toFloatArray());
            OpKind kind = CaseRunner.kindOf(f, null);
            assertEquals(OpKind.CROSS_SCAN, kind);
            try (CaseRunner.Outcome o = CaseRunner.run(f, kind, org.ss2d.Ss2d.on("reference"), scope)) {
                assertEquals("reference", o.backend());
                CaseFiles.writeResult(resultPath, o, root);
            }
        }
        try (Ss2dLeftovers l = new Ss2dLeftovers(dir)) {
            assertEquals(List.of("case.arrow", "result.arrow"), l.names(), "no temporary files left behind");
        }
        try (CaseFile r = CaseFile.open(scope, resultPath)) {
            assertEquals("cross_scan", r.kind());
            assertEquals("reference", r.metadata().get("ss2d.backend"));
            assertEquals(org.ss2d.Backends.get("reference").capabilities().device(), r.metadata().get("ss2d.device"));
            assertTrue(Double.parseDouble(r.metadata().get("ss2d.elapsed_ms")) >= 0);
            Tensor out = r.tensor("out");
            assertArrayEquals(new long[] {2, 4, 3, 20}, out.shape());
            assertEquals(xf[0], out.getFloat(0), "route 0 starts at x[0, 0, 0, 0]");
            assertEquals(xf[1], out.getFloat(1), "route 0 runs along W first");
        }
    }

    @Test
    void aFailedWriteLeavesNoFile() throws IOException {
        Path target = dir.resolve("never.arrow");
        Tensor t = scope.fromArray(new float[] {1, 2}, 2);
        t.close();
        assertThrows(IllegalStateException.class, () -> TensorFiles.write(target, Map.of("x", t), Map.of(), root));
        try (Ss2dLeftovers l = new Ss2dLeftovers(dir)) {
            assertEquals(List.of(), l.names());
        }
    }

    @Test
    void kindComesFromTheFileOrTheOverride() throws IOException {
        Path p = write("k.arrow", new LinkedHashMap<>(), fx -> fx.f32("x", random(13, 4), 1, 1, 2, 2));
        try (CaseFile f = CaseFile.open(scope, p)) {
            assertEquals("ss2d.kind", assertThrows(Ss2dArgumentException.class, () -> CaseRunner.kindOf(f, null)).argument());
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> CaseRunner.kindOf(f, "crossscan"));
            assertEquals("--op", e.argument());
            assertTrue(e.getMessage().contains("cross_scan, cross_merge"), e.getMessage());
            assertEquals(OpKind.CROSS_MERGE, CaseRunner.kindOf(f, "cross_merge"));
            Ss2dArgumentException h = assertThrows(Ss2dArgumentException.class,
                    () -> CaseRunner.run(f, OpKind.CROSS_MERGE, org.ss2d.Ss2d.on("reference"), scope));
            assertEquals("ys", h.argument());
        }
    }

    /** Lists a folder's entries, sorted. */
    record Ss2dLeftovers(Path dir) implements AutoCloseable {
        List<String> names() throws IOException {
            try (var s = Files.list(dir)) {
                return s.map(p -> p.getFileName().toString()).sorted().toList();
            }
        }

        @Override
        public void close() {}
    }
}
