package org.ss2d.conformance.adversarial;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.conformance.CaseExecutor;
import org.ss2d.conformance.CaseResult;
import org.ss2d.conformance.CaseResult.Status;
import org.ss2d.conformance.cases.FileCase;

/**
 * The findings of the adversarial run behind the reliability issue, one test each: every file below
 * must get the same clean rejection (exit 2 material: the engine's argument exception, one line,
 * naming the column or option, no Java class name) from {@code ss2d run} and from
 * {@code ss2d conformance --cases}, or compute on both. Each of these failed before the reader was
 * hardened and the two readers became one.
 */
class HostileFileTest {
    @TempDir
    Path dir;

    static final UnaryOperator<ArrowBlock> SAME_BLOCK = UnaryOperator.identity();

    private static CaseSpec scan(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        CaseSpec s;
        do {
            s = ValidCases.scan(r);
        } while (!s.names().contains("D"));
        return s;
    }

    /** Rejected on both paths, naming {@code argument} (exactly, or as its prefix). */
    private void rejected(String name, byte[] file, String argument, String... details) throws IOException {
        Path p = dir.resolve(name + ".arrow");
        Files.write(p, file);
        String run = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> AdversarialSuiteTest.runPath(p, "cpu"));
        assertTrue(run.equals("rejected"), name + ": ss2d run gave " + run);
        CaseResult batch = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> new CaseExecutor().run(new FileCase(p), "cpu"));
        assertEquals(Status.INVALID, batch.status(), name + ": " + batch.describe());
        assertTrue(batch.detail().startsWith(argument), name + ": names " + argument + ": " + batch.detail());
        assertTrue(AdversarialSuiteTest.clean(batch.detail()), name + ": in words, on one line: " + batch.detail());
        for (String d : details) assertTrue(batch.detail().contains(d), name + ": '" + d + "' in " + batch.detail());
    }

    private void computes(String name, byte[] file) throws IOException {
        Path p = dir.resolve(name + ".arrow");
        Files.write(p, file);
        assertEquals("computed", AdversarialSuiteTest.runPath(p, "cpu"), name);
        CaseResult batch = new CaseExecutor().run(new FileCase(p), "cpu");
        assertEquals(Status.PASS, batch.status(), name + ": " + batch.describe());
    }

    // ---------------------------------------------------------------- the reader trusted the file

    @Test
    void aPlainShapeWhoseProductOverflowsIsRejectedInWordsNotAsArithmeticException() throws IOException {
        CaseSpec s = scan(1).mapColumn("D", c -> c.with(Col.Encoding.PLAIN).withMetadata("shape",
                "[4611686018427387904, 4, " + c.listSize() + "]"));
        rejected("overflow", IpcForge.write(s), "D:", "more than");
    }

    @Test
    void aDimOf2To64Plus2DoesNotWrapTo2() throws IOException {
        CaseSpec s = scan(2).mapColumn("D", c -> c.with(Col.Encoding.PLAIN).withMetadata("shape",
                "[" + new java.math.BigInteger("18446744073709551616").add(java.math.BigInteger.valueOf(c.listSize())) + "]"));
        rejected("wrap", IpcForge.write(s), "D:");
    }

    @Test
    void rowAndListLengthsOf2To31OnShortBuffersAreRejectedAtOnce() throws IOException {
        byte[] f = IpcForge.write(scan(3));
        rejected("rows", IpcForge.relie(f, b -> b.withRows(Integer.MAX_VALUE), SAME_BLOCK), "u:", "rows");
        rejected("child", IpcForge.relie(f, b -> b.withNode(1, Integer.MAX_VALUE, 0), SAME_BLOCK), "u:");
    }

    @Test
    void aFooterBlockBodyOf2To40BytesIsRejectedBeforeAllocating() throws IOException {
        byte[] f = IpcForge.relie(IpcForge.write(scan(4)), b -> b,
                blk -> new ArrowBlock(blk.getOffset(), blk.getMetadataLength(), 1L << 40));
        rejected("body", f, "file:", "1099511627776");
    }

    @Test
    void ninetySixColumnsWhoseChildNodesClaim2To31ValuesAreRejectedBeforeAllocating() throws IOException {
        // Named from the batch's metadata (its values buffer is too short for the count it claims), so
        // nothing was allocated for it: Arrow's bitmaps would be direct memory, invisible to the heap.
        rejected("many", FileLies.manyColumns(new SplittableRandom(5)).bytes(), "t0:", "for its declared length");
    }

    // ---------------------------------------------------------------- batch and run judged differently

    @Test
    void aLoneHalfPrecisionInputIsRefusedByNameAndDtypeOnBothPaths() throws IOException {
        // mamba's rules: u, delta, z and variable B/C share one dtype; a lone half column is the one named
        rejected("f16", IpcForge.write(scan(6).mapColumn("u", c -> c.with(Col.Dtype.F16))), "u:", "float16", "float32");
        rejected("bf16", IpcForge.write(scan(7).mapColumn("delta", c -> c.with(Col.Dtype.BF16)
                .withMetadata("logical_dtype", "bfloat16"))), "delta:", "bfloat16");
    }

    @Test
    void columnsAndOptionsTheContractSaysToIgnoreAreIgnoredOnBothPaths() throws IOException {
        CaseSpec s = scan(8).plus(Col.tensor("notes16", new long[] {3}, new double[] {1, 2, 3}).with(Col.Dtype.F16))
                .plus(new Col("comment", new long[] {1}, 1, new double[1], Col.Encoding.NOTE, Col.Dtype.F32,
                        java.util.Map.of(), false));
        computes("extras", IpcForge.write(s));
        computes("blank-options", IpcForge.write(scan(9).withOptions("  ")));
    }

    @Test
    void nullRowsDisagreeingShapesAndPermutationsAreRejectedOnBothPaths() throws IOException {
        rejected("null-row", IpcForge.write(scan(10).mapColumn("A", Col::withNullRow)), "A:", "null");
        rejected("disagree", IpcForge.write(scan(11).mapColumn("u", c -> c.with(Col.Encoding.EXTENSION).withMetadata("shape",
                "[" + c.listSize() + "]"))), "u:", "extension shape");
        rejected("permutation", IpcForge.write(scan(12).mapColumn("u", c -> c.with(Col.Encoding.RAW_EXTENSION)
                .withMetadata("ARROW:extension:name", "arrow.fixed_shape_tensor")
                .withMetadata("ARROW:extension:metadata", "{\"shape\": " + IpcForge.shapeJson(c.shape())
                        + ", \"permutation\": [2, 1, 0]}"))), "u:", "permutation");
    }

    @Test
    void kindsMatchExactlyOnBothPaths() throws IOException {
        for (String k : List.of("SELECTIVE_SCAN", " selective_scan", "selective_scan\n")) {
            rejected("kind" + k.strip(), IpcForge.write(scan(13).withMetadata("ss2d.kind", k)), "ss2d.kind:");
        }
    }

    // ---------------------------------------------------------------- strict options

    @Test
    void optionsAreParsedStrictlyAndRejectionsNameTheKey() throws IOException {
        CaseSpec s = scan(14);
        rejected("trailing", IpcForge.write(s.withOptions("{\"delta_softplus\": true} junk")), "ss2d.options:");
        rejected("duplicate", IpcForge.write(s.withOptions("{\"delta_softplus\": true, \"delta_softplus\": false}")),
                "options.delta_softplus:");
        rejected("string-bool", IpcForge.write(s.withOptions("{\"delta_softplus\": \"true\"}")), "options.delta_softplus:");
        SplittableRandom r = new SplittableRandom(15);
        CaseSpec merge = ValidCases.crossMerge(r);
        for (String h : List.of("4.5", "\"4\"", "1e300", "99999999999999999999")) {
            rejected("H" + h.length(), IpcForge.write(merge.withOptions("{\"H\": " + h + ", \"W\": 1}")), "options.H:");
        }
    }

    private static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
