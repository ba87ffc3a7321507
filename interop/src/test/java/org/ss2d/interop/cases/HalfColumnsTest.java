package org.ss2d.interop.cases;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * float16 (Arrow HalfFloat) and bfloat16 (uint16 + {@code logical_dtype = bfloat16}) columns: written
 * by the engine, read back as views of their own dtype with the same bits; uint16 without the key is
 * not a float tensor.
 */
class HalfColumnsTest {
    @TempDir
    Path dir;
    private BufferAllocator root;
    private TensorScope scope;

    @BeforeEach
    void open() {
        root = new RootAllocator();
        scope = TensorScope.of("half-columns", root);
    }

    @AfterEach
    void close() {
        scope.close();
        root.close();
    }

    @Test
    void halfColumnsRoundTripBitForBitAsViews() {
        Tensor f = RandomWeights.gaussian(scope, 3, 2.0, 2, 3, 7);
        Tensor h = scope.convert(f, DType.F16), b = scope.convert(f, DType.BF16);
        Map<String, Tensor> cols = new LinkedHashMap<>();
        cols.put("f32", f);
        cols.put("f16", h);
        cols.put("bf16", b);
        Path p = dir.resolve("half.arrow");
        TensorFiles.write(p, cols, Map.of(CaseFile.KIND_KEY, "selective_scan"), root);
        try (CaseFile c = CaseFile.open(scope, p)) {
            assertEquals("float16", c.storedDtype("f16"));
            assertEquals("bfloat16", c.storedDtype("bf16"));
            for (String name : List.of("f16", "bf16")) {
                Tensor t = c.tensor(name), want = cols.get(name);
                assertEquals(want.dtype(), t.dtype(), name);
                assertArrayEquals(new long[] {2, 3, 7}, t.shape(), name);
                assertArrayEquals(want.toFloatArray(), t.toFloatArray(), name + " values");
                double[] d = c.doubles(name);
                assertEquals(want.getFloat(5), d[5], 0.0, name + " as doubles");
            }
        }
        h.close();
        b.close();
        f.close();
    }

    @Test
    void uint16WithoutLogicalDtypeIsNotAFloatTensor() throws Exception {
        Path p = dir.resolve("u16.arrow");
        Field item = new Field("item", new FieldType(false, new ArrowType.Int(16, false), null), null);
        Field col = new Field("u", new FieldType(false, new ArrowType.FixedSizeList(3), null, Map.of("shape", "[3]")), List.of(item));
        try (VectorSchemaRoot r = VectorSchemaRoot.create(new Schema(List.of(col), Map.of(CaseFile.KIND_KEY, "selective_scan")), root)) {
            FixedSizeListVector list = (FixedSizeListVector) r.getVector("u");
            list.allocateNew();
            UInt2Vector values = (UInt2Vector) list.getDataVector();
            for (int i = 0; i < 3; i++) values.setSafe(i, 0x3f80);
            values.setValueCount(3);
            list.setNotNull(0);
            list.setValueCount(1);
            r.setRowCount(1);
            try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE); ArrowFileWriter w = new ArrowFileWriter(r, null, ch)) {
                w.start();
                w.writeBatch();
                w.end();
            }
        }
        try (CaseFile c = CaseFile.open(scope, p)) {
            Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> c.tensor("u"));
            assertEquals("u", e.argument());
            assertTrue(e.getMessage().contains("logical_dtype = bfloat16") && e.getMessage().contains("uint16"), e.getMessage());
        }
    }
}
