package org.ss2d.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.VSSWeights;
import org.ss2d.spark.exec.ExecutorCache;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * run on a real local Spark session: a table of tensors through a case file's op, against
 * {@code ss2d run} of that case file (the same {@link CaseRunner} call) on the CPU backend, bit for bit.
 */
class RunOnSparkTest {
    static SparkSession spark;
    @TempDir
    static Path dir;
    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.IntegerType, false)
            .add("x", DataTypes.createArrayType(DataTypes.FloatType, false), true)
            .add("x_shape", DataTypes.createArrayType(DataTypes.IntegerType, false), true);

    @BeforeAll
    static void setUp() {
        spark = SparkFixtures.localSession();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
        ExecutorCache.clear();
    }

    /** A case file of {@code kind} with seeded weights and a batched x of {@code rows} samples of {@code (c, h, w)}. */
    static Path caseFile(OpKind kind, int rows, int c, int h, int w) {
        return caseFile(kind, rows, c, h, w, null);
    }

    /** As above with the block's {@code dtype} option (null: none). */
    static Path caseFile(OpKind kind, int rows, int c, int h, int w, String dtype) {
        Path p = dir.resolve(kind.key() + (dtype == null ? "" : "-" + dtype) + ".arrow");
        try (RootAllocator root = new RootAllocator(); TensorScope s = TensorScope.of("case", root)) {
            Map<String, Tensor> cols = new LinkedHashMap<>();
            Map<String, Object> options = new LinkedHashMap<>();
            if (kind == OpKind.SS2D) {
                cols.putAll(RandomWeights.ss2d(s, new SS2DConfig(c, 2, 1.5, 1, 3, true), 5).asMap());
                options.put("d_state", 2);
            } else if (kind == OpKind.VSS_BLOCK) {
                VSSWeights vw = RandomWeights.vss(s, SS2DConfig.of(c, 1, 1.0), 2.5, 7);
                cols.putAll(vw.asMap());
                options.put("mlp_ratio", 2.5);
                options.put("d_state", 1);
            }
            cols.put("x", RandomWeights.gaussian(s, 6, 1.0, rows, c, h, w));
            if (dtype != null) options.put("dtype", dtype);
            CaseFiles.writeCase(p, kind, CaseOptions.of(options), cols, root);
            s.release();
        }
        return p;
    }

    /** What {@code ss2d run CASE -o RESULT} computes for the file, on the CPU backend: out, flattened. */
    static float[] singleProcess(Path p) {
        try (RootAllocator root = new RootAllocator(); TensorScope s = TensorScope.of("run", root); CaseFile f = CaseFile.open(s, p);
             CaseRunner.Outcome o = CaseRunner.run(f, CaseRunner.kindOf(f, null), Ss2d.on("cpu"), s)) {
            return o.outputs().get("out").toFloatArray();
        }
    }

    static float[] input(Path p) {
        try (RootAllocator root = new RootAllocator(); TensorScope s = TensorScope.of("in", root); CaseFile f = CaseFile.open(s, p)) {
            return f.tensor("x").toFloatArray();
        }
    }

    static void checkOp(OpKind kind) {
        checkOp(kind, null);
    }

    static void checkOp(OpKind kind, String dtype) {
        int n = 23, c = 8, h = 6, w = 5, per = c * h * w;
        Path p = caseFile(kind, n, c, h, w, dtype);
        float[] want = singleProcess(p);
        float[] x = input(p);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) rows.add(RowFactory.create(i, Arrays.copyOfRange(x, i * per, (i + 1) * per), new int[] {c, h, w}));
        // Rows that cannot run: a transposed shape, too few values, no tensor.
        rows.add(RowFactory.create(100, Arrays.copyOfRange(x, 0, per), new int[] {c, w, h}));
        rows.add(RowFactory.create(101, Arrays.copyOfRange(x, 0, per - 1), new int[] {c, h, w}));
        rows.add(RowFactory.create(102, null, new int[] {c, h, w}));
        Dataset<Row> table = spark.createDataFrame(rows, SCHEMA).repartition(3);
        List<Row> out = Ss2dSpark.run(table, OpSpec.of(p.toString()).withBackend("cpu").withBatchSize(4)).collectAsList();
        assertEquals(n + 3, out.size());
        int outPer = want.length / n;
        for (Row r : out) {
            int id = r.getInt(0);
            String error = r.getString(r.fieldIndex("error"));
            if (id >= 100) {
                assertNull(r.get(r.fieldIndex("out")), kind + " row " + id);
                assertNotNull(error, kind + " row " + id + " error");
                assertTrue(error.startsWith("x_shape") || error.startsWith("x:"), error);
                continue;
            }
            assertNull(error, kind + " row " + id);
            List<Float> got = r.getList(r.fieldIndex("out"));
            assertEquals(outPer, got.size(), kind + " row " + id + " values");
            for (int i = 0; i < outPer; i++) {
                float g = got.get(i), e = want[id * outPer + i];
                if (Float.isNaN(g) || Float.floatToRawIntBits(g) != Float.floatToRawIntBits(e)) {
                    fail("cpu, " + (dtype == null ? "float32" : dtype) + ", " + kind + " x (" + n + "," + c + "," + h + "," + w + ") row " + id + " element " + i + ": " + g + " on Spark, " + e + " from ss2d run");
                }
            }
        }
    }

    @Test
    void ss2dOverATensorTableEqualsSs2dRunBitForBit() {
        checkOp(OpKind.SS2D);
    }

    @Test
    void vssBlockOverATensorTableEqualsSs2dRunBitForBit() {
        checkOp(OpKind.VSS_BLOCK);
    }

    /** A template with {@code dtype: bfloat16}: float32 rows are rounded to it and out holds bfloat16 values, as ss2d run. */
    @Test
    void aBfloat16Ss2dTemplateRunsItsRowsInBfloat16LikeSs2dRun() {
        checkOp(OpKind.SS2D, "bfloat16");
    }

    @Test
    void aMisShapedTensorFailsTheJobWhenAskedTo() {
        Path p = caseFile(OpKind.CROSS_SCAN, 2, 4, 3, 3);
        Dataset<Row> table = spark.createDataFrame(List.of(RowFactory.create(0, new float[36], new int[] {4, 3, 4})), SCHEMA);
        Exception e = assertThrows(Exception.class,
                () -> Ss2dSpark.run(table, OpSpec.of(p.toString()).withFailOnError(true)).collectAsList());
        assertTrue(ClassifyOnSparkTest.rootMessage(e).contains("x_shape: expected [4, 3, 3]"), ClassifyOnSparkTest.rootMessage(e));
    }

    @Test
    void wrongColumnsAndFilesAreRejectedOnTheDriver() {
        Dataset<Row> table = spark.createDataFrame(List.<Row>of(), SCHEMA);
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class,
                () -> Ss2dSpark.run(table, OpSpec.of(dir.resolve("none.arrow").toString())));
        assertTrue(e.getMessage().startsWith("caseFile: "), e.getMessage());
        e = assertThrows(Ss2dArgumentException.class, () -> Ss2dSpark.run(table, OpSpec.of("x").withColumns("y", "x_shape")));
        assertTrue(e.getMessage().startsWith("tensorColumn: "), e.getMessage());
        e = assertThrows(Ss2dArgumentException.class, () -> Ss2dSpark.classify(table, ModelSpec.of("none.safetensors")));
        assertTrue(e.getMessage().startsWith("imageColumn: "), e.getMessage());
    }
}
