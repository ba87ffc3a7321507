package org.ss2d.interop.cdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Real pyarrow on the other side of the C Data Interface, in this process (CPython embedded through
 * FFM). Opt-in, since CI has no Python: run with
 * <pre>
 * ./mvnw -q -o -pl interop test -Dtest=PyArrowInProcessTest \
 *   -Dss2d.test.extra="-Dss2d.python.home=$(python3 -c 'import sys; print(sys.base_prefix)') \
 *                      -Dss2d.python.path=$(python3 -c 'import pyarrow, os; print(os.path.dirname(os.path.dirname(pyarrow.__file__)))')"
 * </pre>
 * Java to pyarrow: NumPy's (read-only) view of the imported array has the tensor's address. pyarrow to Java: the
 * tensor has NumPy's address, and closing it gives pyarrow's memory pool its bytes back.
 */
@EnabledIfSystemProperty(named = "ss2d.python.home", matches = ".+",
        disabledReason = "opt-in: needs -Dss2d.python.home and -Dss2d.python.path (a CPython with pyarrow)")
class PyArrowInProcessTest {
    private static EmbeddedPython python() throws Throwable {
        return EmbeddedPython.get(Path.of(System.getProperty("ss2d.python.home")),
                Path.of(System.getProperty("ss2d.python.path", ".")));
    }

    @Test
    void pyarrowImportsOurTensorWithoutACopy() throws Throwable {
        EmbeddedPython py = python();
        try (BufferAllocator root = new RootAllocator(); Arena arena = Arena.ofConfined()) {
            TensorScope scope = TensorScope.of("java", root);
            Tensor t = RandomWeights.gaussian(scope, 5, 1.0, 2, 3, 4);
            MemorySegment array = arena.allocate(CDataTensors.ARRAY_STRUCT_BYTES, 8);
            MemorySegment schema = arena.allocate(CDataTensors.SCHEMA_STRUCT_BYTES, 8);
            MemorySegment result = arena.allocate(8 * 4, 8);
            result.fill((byte) 0);
            CDataTensors.exportTensor(t, array, schema);
            py.exec(String.join("\n",
                    "import ctypes, pyarrow as pa",
                    "arr = pa.Array._import_from_c(" + array.address() + ", " + schema.address() + ")",
                    "assert isinstance(arr.type, pa.FixedShapeTensorType), arr.type",
                    "nd = arr.to_numpy_ndarray()[0]",
                    "out = (ctypes.c_double * 4).from_address(" + result.address() + ")",
                    "out[0] = nd.ctypes.data",
                    "out[1] = float(nd[1, 2, 3])",
                    "out[2] = len(nd.shape) * 100 + nd.shape[0] * 10 + nd.shape[2]",
                    "out[3] = 1.0 if not nd.flags.owndata else 0.0  # a view, not a copy",
                    "del nd, arr  # pyarrow calls our release callback here",
                    "import gc; gc.collect()"));
            assertEquals((double) t.segment().address(), result.getAtIndex(ValueLayout.JAVA_DOUBLE, 0),
                    "NumPy's view must have the tensor's address (f32 (2, 3, 4))");
            assertEquals(t.get(1, 2, 3), (float) result.getAtIndex(ValueLayout.JAVA_DOUBLE, 1));
            assertEquals(324.0, result.getAtIndex(ValueLayout.JAVA_DOUBLE, 2), "shape (2, 3, 4) seen by NumPy");
            assertEquals(1.0, result.getAtIndex(ValueLayout.JAVA_DOUBLE, 3), "NumPy holds a view, not its own copy");
            t.close();
            assertEquals(0, root.getAllocatedMemory(), "pyarrow released the export exactly once");
            scope.close();
        }
    }

    @Test
    void ourImportOfAPyarrowTensorSharesItsBuffer() throws Throwable {
        EmbeddedPython py = python();
        try (BufferAllocator root = new RootAllocator(); Arena arena = Arena.ofConfined();
             TensorScope scope = TensorScope.of("java", root)) {
            MemorySegment array = arena.allocate(CDataTensors.ARRAY_STRUCT_BYTES, 8);
            MemorySegment schema = arena.allocate(CDataTensors.SCHEMA_STRUCT_BYTES, 8);
            MemorySegment result = arena.allocate(8 * 3, 8);
            py.exec(String.join("\n",
                    "import ctypes, gc, numpy as np, pyarrow as pa",
                    "gc.collect()",
                    "base = pa.total_allocated_bytes()",
                    "values = pa.array([i * 0.5 - 2 for i in range(12)], pa.float32())  # built in pyarrow's pool",
                    "storage = pa.FixedSizeListArray.from_arrays(values, 12)",
                    "arr = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float32(), [3, 4]), storage)",
                    "out = (ctypes.c_double * 3).from_address(" + result.address() + ")",
                    "out[0] = values.buffers()[1].address",
                    "out[1] = pa.total_allocated_bytes() - base",
                    "arr._export_to_c(" + array.address() + ", " + schema.address() + ")",
                    "del values, storage, arr",
                    "gc.collect()"));
            Tensor t = CDataTensors.importTensor(scope, array, schema);
            assertEquals((double) t.segment().address(), result.getAtIndex(ValueLayout.JAVA_DOUBLE, 0),
                    "the tensor must view pyarrow's buffer");
            assertArrayEquals(new long[] {3, 4}, t.shape());
            float[] want = new float[12];
            for (int i = 0; i < 12; i++) want[i] = i * 0.5f - 2;
            assertArrayEquals(want, t.toFloatArray());
            py.exec("out = (ctypes.c_double * 3).from_address(" + result.address() + ")\n"
                    + "out[2] = pa.total_allocated_bytes() - base");
            double made = result.getAtIndex(ValueLayout.JAVA_DOUBLE, 1), held = result.getAtIndex(ValueLayout.JAVA_DOUBLE, 2);
            assertTrue(made >= 48 && held >= made, "pyarrow keeps its " + made + " bytes while the tensor lives (held " + held + ")");
            t.close();
            py.exec("gc.collect(); out = (ctypes.c_double * 3).from_address(" + result.address() + ")\n"
                    + "out[2] = pa.total_allocated_bytes() - base");
            assertEquals(0.0, result.getAtIndex(ValueLayout.JAVA_DOUBLE, 2),
                    "closing the tensor released pyarrow's memory (exactly once: pyarrow would abort on a second)");
        }
    }
}
