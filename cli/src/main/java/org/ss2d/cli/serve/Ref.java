package org.ss2d.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A tensor of the client, as a request names it: float32 values either in its shared memory ({@link Host}) or in
 * one of its CUDA allocations ({@link Cuda}). Parsed from a JSON reference or a binary frame ({@link Frames});
 * bounds are checked when a view is made ({@link Ops#view}).
 */
sealed interface Ref permits Ref.Host, Ref.Cuda {
    long[] shape();

    /** {@code shape} float32 values at byte {@code off} of the client's segment {@code seg} ({@code size} bytes, its memfd {@code fd}). */
    record Host(long seg, long fd, long size, long off, long[] shape) implements Ref {}

    /**
     * {@code shape} float32 values at byte {@code offset} of the client's CUDA allocation of {@code allocBytes} on
     * device {@code device}, exported as the IPC handle {@code handle} (base64, as JSON sends it: the session's key).
     */
    record Cuda(String handle, int device, long offset, long allocBytes, long[] shape) implements Ref {}

    /** The reference in JSON form: {@code {seg, fd, size, off, shape, dtype}} or {@code {cuda: {...}, shape, dtype}}. */
    static Ref of(JsonNode ref, String name) {
        String dtype = ref.path("dtype").asText("");
        if (!dtype.equals("float32")) {
            throw new Ss2dArgumentException(name, "float32 values (the engine's compute dtype)", "\"" + dtype + "\"", null);
        }
        long[] shape = shape(ref.path("shape"), name);
        if (ref.has("cuda")) {
            JsonNode c = ref.path("cuda");
            return new Cuda(c.path("handle").asText(""), c.path("device").asInt(-1), c.path("offset").asLong(-1),
                    c.path("alloc_bytes").asLong(-1), shape);
        }
        return new Host(ref.path("seg").asLong(-1), ref.path("fd").asLong(-1), ref.path("size").asLong(-1),
                ref.path("off").asLong(-1), shape);
    }

    static long[] shape(JsonNode n, String name) {
        if (!n.isArray()) throw new Ss2dArgumentException(name, "a shape (a list of sizes)", n.toString(), null);
        long[] shape = new long[n.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = n.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new Ss2dArgumentException(name, "non-negative integer sizes", n.toString(), null);
            }
            shape[i] = d.asLong();
        }
        return shape;
    }
}
