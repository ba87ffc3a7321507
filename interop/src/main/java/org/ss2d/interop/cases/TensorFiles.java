package org.ss2d.interop.cases;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.ss2d.interop.arrow.ArrowTensors;
import org.ss2d.tensor.Tensor;

/**
 * Writes tensors as an Arrow IPC file of one record batch: each tensor one float32, float16 or bfloat16
 * {@code arrow.fixed_shape_tensor} column, one row, handed to Arrow without copying. The file is
 * written under a temporary name in the target's folder and then renamed over the target, so a
 * reader sees the whole file or none (nothing is left behind on failure).
 */
public final class TensorFiles {
    private TensorFiles() {}

    /**
     * @param tensors  column name to host tensor, in column order
     * @param metadata schema metadata ({@code ss2d.kind}, ...)
     * @param allocator an allocator of the same root as the tensors' scope (see {@link ArrowTensors})
     */
    public static void write(Path target, Map<String, Tensor> tensors, Map<String, String> metadata,
                             BufferAllocator allocator) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        List<FieldVector> vectors = new ArrayList<>();
        try {
            for (var e : tensors.entrySet()) vectors.add(ArrowTensors.toVector(e.getValue(), e.getKey(), allocator));
            List<Field> fields = vectors.stream().map(FieldVector::getField).toList();
            Schema schema = new Schema(fields, new LinkedHashMap<>(metadata));
            // A short temporary name: one built from the target's would pass the file system's name limit
            // for a target name that is itself legal (250 characters, say).
            tmp = Files.createTempFile(dir, ".ss2d-", ".tmp");
            try {
                // createTempFile makes the file private (0600); a result file is an ordinary file
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: keep the default
            }
            try (VectorSchemaRoot root = new VectorSchemaRoot(schema, vectors, 1);
                 FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 ArrowFileWriter w = new ArrowFileWriter(root, null, ch)) {
                vectors = List.of(); // the root owns them now
                w.start();
                w.writeBatch();
                w.end();
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + target + ": " + e.getMessage(), e);
        } finally {
            for (FieldVector v : vectors) v.close();
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; that error is the one to report
                }
            }
        }
    }
}
