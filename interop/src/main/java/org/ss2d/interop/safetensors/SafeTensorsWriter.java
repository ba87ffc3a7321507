package org.ss2d.interop.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Writes float32 host tensors as a {@code .safetensors} file that {@code safetensors.torch.load_file}
 * reads: keys in the map's order, data contiguous (the format allows no gaps), the header padded
 * with spaces to a multiple of 8 so that the data section starts 8-byte aligned and every float 4. The file is written to a temporary name and renamed,
 * so a reader never sees half of it.
 */
public final class SafeTensorsWriter {
    private SafeTensorsWriter() {}

    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject(SafeTensorsHeader.METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (e.getKey().equals(SafeTensorsHeader.METADATA_KEY)) {
                throw new Ss2dArgumentException(e.getKey(), "a tensor name", "the reserved metadata key", null);
            }
            if (!t.isHost()) {
                throw new Ss2dArgumentException(e.getKey(), "a host tensor", t.describe(), null);
            }
            ObjectNode o = root.putObject(e.getKey());
            o.put("dtype", switch (t.dtype()) {
                case F32 -> "F32";
                case F16 -> "F16";
                case BF16 -> "BF16";
            });
            ArrayNode shape = o.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            ArrayNode off = o.putArray("data_offsets");
            off.add(offset);
            offset += t.byteSize();
            off.add(offset);
        }
        byte[] head = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (head.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(head);
        while (prefix.hasRemaining()) prefix.put((byte) ' ');
        prefix.flip();
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                while (prefix.hasRemaining()) ch.write(prefix);
                for (Tensor t : tensors.values()) {
                    // The little-endian float bytes are written straight from the tensor's memory.
                    ByteBuffer b = t.segment().asByteBuffer();
                    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                        throw new UnsupportedOperationException("safetensors writing needs a little-endian host");
                    }
                    while (b.hasRemaining()) ch.write(b);
                }
            }
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the original failure is the one to report
            }
            throw new UncheckedIOException("cannot write " + path, e);
        }
    }
}
