package org.ss2d.interop.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ss2d.interop.weights.StateDictSource;
import org.ss2d.interop.weights.Weights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A {@code .safetensors} file (8-byte little-endian header length, JSON header, raw bytes),
 * memory-mapped. Float32 tensors are views of the mapping (no copy, no read until touched);
 * {@link #load} converts float16, bfloat16 and float64 ones to float32 copies (what weights take),
 * {@link #loadView} hands float16 and bfloat16 out as views of their own dtype (what a half op takes).
 *
 * <p>The file owns the mapping and a {@link TensorScope} holding every tensor it handed out; closing
 * the file frees those tensors first and unmaps after, so no tensor can outlive its bytes (a stale
 * tensor throws instead of reading unmapped memory). The mapping is private (copy-on-write) when the
 * file may be opened for writing, so a tensor written by mistake never changes the checkpoint; a
 * read-only file is mapped read-only and its float32 tensors must not be written.
 *
 * <pre>{@code
 * try (SafeTensorsFile f = SafeTensorsFile.open(Path.of("vmamba_tiny.safetensors"))) {
 *     SS2DWeights w = f.ss2d(SS2DConfig.of(96, 1, 1.0), "layers.0.blocks.1.op.");
 *     Tensor y = Ss2d.auto().ss2d(scope, w, x);
 * }
 * }</pre>
 */
public final class SafeTensorsFile implements StateDictSource {
    private final String fileName;
    private final SafeTensorsHeader header;
    private final Arena arena;
    private final MemorySegment data;
    private final boolean privateMapping;
    private final TensorScope scope;
    private volatile boolean closed;

    private SafeTensorsFile(String fileName, SafeTensorsHeader header, Arena arena, MemorySegment data,
                            boolean privateMapping, TensorScope scope) {
        this.fileName = fileName;
        this.header = header;
        this.arena = arena;
        this.data = data;
        this.privateMapping = privateMapping;
        this.scope = scope;
    }

    /** Opens a file with its own root scope. */
    public static SafeTensorsFile open(Path path) {
        return open(path, null);
    }

    /**
     * Opens a file whose tensors live in a child scope of {@code parent} (null: a root scope of its
     * own). Throws {@link Ss2dArgumentException} naming the key or the header on a malformed file.
     */
    public static SafeTensorsFile open(Path path, TensorScope parent) {
        String name = path.getFileName() == null ? path.toString() : path.getFileName().toString();
        boolean priv = true;
        FileChannel ch;
        try {
            try {
                // PRIVATE mapping needs a channel open for writing; nothing is ever written through it.
                ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (java.nio.file.NoSuchFileException e) {
                throw e;
            } catch (java.nio.file.FileSystemException | UnsupportedOperationException e) {
                // Read-only file or file system: map read-only instead.
                priv = false;
                ch = FileChannel.open(path, StandardOpenOption.READ);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            throw new Ss2dArgumentException(name, "a safetensors file", "no such file " + path, null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + path, e);
        }
        Arena arena = Arena.ofShared();
        try (FileChannel c = ch) {
            long size = c.size();
            if (size < 8) {
                throw new Ss2dArgumentException(name, "at least 8 bytes (the header length)",
                        size + " bytes (truncated file)", null);
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(c, len, 0);
            long n = len.getLong(0);
            if (n < 2 || n > SafeTensorsHeader.MAX_HEADER_BYTES) {
                throw new Ss2dArgumentException(name + " header", "a length in [2, " + SafeTensorsHeader.MAX_HEADER_BYTES
                        + "] bytes", n + " (not a safetensors file, or corrupt)", Long.toString(SafeTensorsHeader.MAX_HEADER_BYTES));
            }
            if (8 + n > size) {
                throw new Ss2dArgumentException(name + " header", n + " header bytes after the length",
                        (size - 8) + " bytes left in the file (truncated file)", null);
            }
            ByteBuffer json = ByteBuffer.allocate((int) n);
            readFully(c, json, 8);
            long dataBytes = size - 8 - n;
            SafeTensorsHeader h = SafeTensorsHeader.parse(name, json.array(), dataBytes);
            MemorySegment data = c.map(priv ? FileChannel.MapMode.PRIVATE : FileChannel.MapMode.READ_ONLY,
                    8 + n, dataBytes, arena);
            TensorScope s = parent == null ? TensorScope.root("safetensors:" + name) : parent.child("safetensors:" + name);
            return new SafeTensorsFile(name, h, arena, data, priv, s);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot read " + path, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static void readFully(FileChannel c, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = c.read(b, pos + b.position());
            if (r < 0) throw new IOException("unexpected end of file");
        }
    }

    // ------------------------------------------------------------------ contents

    /** The {@code __metadata__} strings (empty if none). */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Every entry in file order. */
    public List<SafeTensorsEntry> entries() {
        return new ArrayList<>(header.entries().values());
    }

    /** The entry under {@code key}, or null. */
    public SafeTensorsEntry entry(String key) {
        return header.entries().get(key);
    }

    @Override
    public Set<String> keys() {
        return header.entries().keySet();
    }

    @Override
    public String dtypeOf(String key) {
        SafeTensorsEntry e = entry(key);
        return e == null ? null : e.dtype();
    }

    @Override
    public long[] shapeOf(String key) {
        SafeTensorsEntry e = entry(key);
        return e == null ? null : e.shape();
    }

    @Override
    public boolean isFloat(String key) {
        SafeTensorsEntry e = entry(key);
        return e != null && SafeTensorsEntry.FLOAT_DTYPES.contains(e.dtype());
    }

    /** Whether writes to float32 tensors stay private (copy-on-write) rather than being forbidden. */
    public boolean isPrivateMapping() {
        return privateMapping;
    }

    /** The stored bytes of one entry, read-only, valid until the file closes (for dtypes we do not convert). */
    public MemorySegment bytes(String key) {
        checkOpen();
        SafeTensorsEntry e = require(key);
        return data.asSlice(e.begin(), e.byteSize()).asReadOnly();
    }

    /** The scope that owns the tensors this file hands out. */
    public TensorScope scope() {
        return scope;
    }

    /**
     * A float32 tensor named {@code key}: a view of the mapping for F32 (zero-copy), a converted copy
     * for F16, BF16 and F64. Each call makes a new tensor; all are freed when the file closes.
     */
    @Override
    public Tensor load(String key) {
        checkOpen();
        SafeTensorsEntry e = require(key);
        long[] shape = e.shape();
        MemorySegment src = data.asSlice(e.begin(), e.byteSize());
        return switch (e.dtype()) {
            case "F32" -> scope.wrap(key, src, DType.F32, shape);
            case "F16" -> convert(key, shape, src, Convert.F16);
            case "BF16" -> convert(key, shape, src, Convert.BF16);
            case "F64" -> convert(key, shape, src, Convert.F64);
            default -> throw new Ss2dArgumentException(key, "a floating-point dtype " + SafeTensorsEntry.FLOAT_DTYPES,
                    "dtype " + e.describe(), null);
        };
    }

    /**
     * The tensor named {@code key} in its stored dtype, as a view of the mapping (no copy): F32, F16 and
     * BF16 entries become tensors of that dtype over the file's bytes, for ops that take half inputs
     * (the selective scan's activations). F64 has no tensor dtype and is converted to float32 as by
     * {@link #load}. Each call makes a new tensor; all are freed when the file closes.
     */
    public Tensor loadView(String key) {
        checkOpen();
        SafeTensorsEntry e = require(key);
        DType view = switch (e.dtype()) {
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> null;
        };
        if (view == null || java.nio.ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            return load(key); // safetensors is little-endian: a view is only a view on a little-endian machine
        }
        return scope.wrap(key, data.asSlice(e.begin(), e.byteSize()), view, e.shape());
    }

    private enum Convert { F16, BF16, F64 }

    private Tensor convert(String key, long[] shape, MemorySegment src, Convert how) {
        Tensor t = scope.allocate(key, DType.F32, shape);
        MemorySegment dst = t.segment();
        long n = t.elementCount();
        // safetensors stores little-endian; the unaligned layouts cover offsets that are not multiples of the size.
        switch (how) {
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i,
                            Float.float16ToFloat(src.getAtIndex(LE_SHORT, i)));
                }
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    int bits = (src.getAtIndex(LE_SHORT, i) & 0xFFFF) << 16; // bfloat16 is the top half of a float
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, Float.intBitsToFloat(bits));
                }
            }
            case F64 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) src.getAtIndex(LE_DOUBLE, i));
                }
            }
        }
        return t;
    }

    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    // ------------------------------------------------------------------ weights

    /** SS2D weights under {@code prefix} (see {@link Weights#ss2d}). */
    public SS2DWeights ss2d(SS2DConfig config, String prefix) {
        return Weights.ss2d(this, config, prefix);
    }

    /** VSS-block weights under {@code prefix} (see {@link Weights#vss}). */
    public VSSWeights vss(SS2DConfig config, double mlpRatio, String prefix) {
        return Weights.vss(this, config, mlpRatio, prefix);
    }

    @Override
    public String describe() {
        return fileName;
    }

    private SafeTensorsEntry require(String key) {
        SafeTensorsEntry e = header.entries().get(key);
        if (e == null) {
            throw new Ss2dArgumentException(key, "a tensor in " + fileName,
                    "missing key (the file has " + header.entries().size() + " tensors)", null);
        }
        return e;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(fileName + " is closed");
        }
    }

    /** Frees every tensor this file handed out, then unmaps the file (idempotent). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            scope.release();
        } finally {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + fileName + ", " + header.entries().size() + " tensors" + (closed ? ", closed" : "") + "]";
    }
}
