package org.ss2d.interop.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** The safetensors container: zero-copy mapping, ownership, and every malformed-file error naming its key. */
class SafeTensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void writtenTensorsReadBackAsViewsOfTheMapping() {
        Path f = dir.resolve("w.safetensors");
        try (TensorScope scope = TensorScope.root("test")) {
            Tensor a = RandomWeights.gaussian(scope, 11, 1.0, 3, 5);
            Tensor b = RandomWeights.gaussian(scope, 12, 2.0, 7);
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("layers.0.a", a);
            m.put("b", b);
            SafeTensorsWriter.write(f, m, Map.of("format", "pt"));
            try (SafeTensorsFile st = SafeTensorsFile.open(f, scope)) {
                assertEquals(Map.of("format", "pt"), st.metadata());
                assertEquals(java.util.List.of("layers.0.a", "b"), java.util.List.copyOf(st.keys()));
                for (var e : m.entrySet()) {
                    Tensor t = st.load(e.getKey());
                    assertArrayEquals(e.getValue().shape(), t.shape(), e.getKey());
                    assertArrayEquals(e.getValue().toFloatArray(), t.toFloatArray(), "f32 " + t.describe());
                    // Zero copy: the tensor's memory is the mapped file's bytes of that entry.
                    assertEquals(st.bytes(e.getKey()).address(), t.segment().address(), t.describe());
                    assertEquals(0, (st.bytes(e.getKey()).address()) % 4, "4-byte aligned floats: " + t.describe());
                }
                assertTrue(st.isPrivateMapping(), "a writable file is mapped copy-on-write");
            }
            a.close();
            b.close();
            assertEquals(0, scope.liveBytes());
        }
    }

    @Test
    void halfEntriesLoadAsViewsOfTheirOwnDtypeOrAsFloat32Copies() {
        Path f = dir.resolve("h.safetensors");
        try (TensorScope scope = TensorScope.root("test")) {
            Tensor src = RandomWeights.gaussian(scope, 13, 3.0, 4, 6);
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (DType d : new DType[] {DType.F16, DType.BF16}) m.put(d.arrowName(), scope.convert(src, d));
            SafeTensorsWriter.write(f, m, Map.of());
            try (SafeTensorsFile st = SafeTensorsFile.open(f, scope)) {
                for (var e : m.entrySet()) {
                    Tensor view = st.loadView(e.getKey()), copy = st.load(e.getKey());
                    assertEquals(e.getValue().dtype(), view.dtype(), e.getKey());
                    assertEquals(st.bytes(e.getKey()).address(), view.segment().address(), "a view of the mapping: " + e.getKey());
                    assertArrayEquals(e.getValue().toFloatArray(), view.toFloatArray(), e.getKey());
                    assertEquals(DType.F32, copy.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().toFloatArray(), copy.toFloatArray(), e.getKey() + " widened exactly");
                }
            }
            for (Tensor t : m.values()) t.close();
            src.close();
        }
    }

    @Test
    void writesToAPrivateMappingNeverReachTheFile() throws IOException {
        Path f = dir.resolve("p.safetensors");
        try (TensorScope scope = TensorScope.root("test")) {
            try (Tensor a = scope.fromArray(new float[] {1, 2, 3, 4}, 2, 2)) {
                SafeTensorsWriter.write(f, Map.of("a", a), null);
            }
        }
        byte[] before = Files.readAllBytes(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            Tensor t = st.load("a");
            t.fill(-7f);
            assertEquals(-7f, t.getFloat(3));
        }
        assertArrayEquals(before, Files.readAllBytes(f), "the checkpoint changed on disk");
    }

    @Test
    void closingTheFileFreesItsTensorsAndStaleOnesThrow() {
        Path f = dir.resolve("c.safetensors");
        try (TensorScope scope = TensorScope.root("owner")) {
            try (Tensor a = RandomWeights.gaussian(scope, 3, 1.0, 4, 4)) {
                SafeTensorsWriter.write(f, Map.of("a", a), null);
            }
            Tensor view;
            Tensor converted;
            try (SafeTensorsFile st = SafeTensorsFile.open(f, scope)) {
                view = st.load("a");
                converted = st.load("a");
                assertTrue(scope.liveBytes() > 0);
            }
            assertTrue(view.isClosed() && converted.isClosed());
            assertEquals(0, scope.liveBytes(), "tensors of a closed file must be freed");
            assertThrows(IllegalStateException.class, () -> view.getFloat(0));
        } // closing the owner must not report a leak
    }

    @Test
    void malformedFilesFailNamingTheKey() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        expect(file(ok, 4), "a", "truncated");                                      // data cut short
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8), "a", "out of range");
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "a", "12 bytes");
        expect(file("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "a", "dtype \"F33\"");
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "a", "non-negative");
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "a", "begin <= end");
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "b", "overlaps \"a\"");
        expect(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "header", "Duplicate field 'a'");
        expect(file("{\"a\":", 8), "header", "malformed JSON");
        expect(file("[1,2]", 8), "header", "a JSON object");
        expect(file(ok + "{}", 8), "header", "malformed JSON");
        try (SafeTensorsFile padded = SafeTensorsFile.open(file(ok + "     ", 8))) {
            assertEquals(1, padded.keys().size(), "space padding after the header is the format's own");
        }
        expect(file("{\"__metadata__\":{\"v\":1}}", 0), "__metadata__.v", "a string");
        // A header length larger than the file, and a file shorter than the length field.
        Path big = dir.resolve("big.safetensors");
        Files.write(big, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        expect(big, "header", "truncated");
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        expect(tiny, "tiny.safetensors", "truncated");
        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).array());
        expect(huge, "header", "corrupt");
        expect(dir.resolve("absent.safetensors"), "absent.safetensors", "no such file");
    }

    @Test
    void nonFloatAndMissingKeysFailOnLoadNamingTheKey() throws IOException {
        Path f = file("{\"steps\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertFalse(st.isFloat("steps"));
            var e = assertThrows(Ss2dArgumentException.class, () -> st.load("steps"));
            assertEquals("steps", e.argument(), e.getMessage());
            assertTrue(e.getMessage().contains("I64"), e.getMessage());
            var m = assertThrows(Ss2dArgumentException.class, () -> st.load("nope"));
            assertEquals("nope", m.argument(), m.getMessage());
            assertEquals(8, st.bytes("steps").byteSize(), "raw bytes of a dtype we do not convert stay reachable");
        }
    }

    @Test
    void emptyTensorsAndEmptyFilesLoad() throws IOException {
        Path f = file("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}", 0);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            Tensor e = st.load("e");
            assertEquals(0, e.elementCount());
            assertArrayEquals(new long[] {0, 3}, e.shape());
        }
    }

    private void expect(Path f, String argumentPart, String messagePart) {
        var e = assertThrows(Ss2dArgumentException.class, () -> SafeTensorsFile.open(f).close(),
                "expected a rejection of " + f.getFileName() + " naming " + argumentPart);
        assertTrue(e.argument().contains(argumentPart), "argument of [" + e.getMessage() + "] should name " + argumentPart);
        assertTrue(e.getMessage().contains(messagePart), "[" + e.getMessage() + "] should say " + messagePart);
    }

    private int files;

    /** A safetensors file with this header and {@code dataBytes} bytes of non-zero data. */
    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (int i = 0; i < dataBytes; i++) b.put((byte) (i * 37 + 1));
        Path p = dir.resolve("f" + (files++) + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    @Test
    void float32ValuesComeFromTheLittleEndianBytes() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-3.25f);
        byte[] h = "{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data.array());
        Path p = dir.resolve("le.safetensors");
        Files.write(p, b.array());
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            Tensor v = st.load("v");
            assertEquals(1.5f, v.getFloat(0));
            assertEquals(-3.25f, v.getFloat(1));
            assertEquals(1.5f, st.bytes("v").get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        }
    }
}
