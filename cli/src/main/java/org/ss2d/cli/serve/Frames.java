package org.ss2d.cli.serve;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The binary form of the per-call requests (ping and the ops), which the Python client sends
 * instead of JSON because a small op's whole time is a few microseconds and JSON on both sides took several
 * times that. A frame's body starts with {@link #BINARY} (a JSON body starts with '{'). Little-endian:
 * <pre>
 *   u8 0x01, u8 op (1 ping, 2 selective_scan, 3 cross_scan, 4 cross_merge, 5 run),
 *   u8 flags (1 delta_softplus, 2 return_last_state, 4 features, 8 stream-ordered: see {@link Ops#call}),
 *   u8 tensor count, i64 handle (run), with flag 8 a u32 ticket ({@link OrderFlags}),
 *   u8 k, k ASCII bytes of the backend's name (none: auto),
 *   per tensor: u8 slot ({@link #NAMES}), u8 rank, then
 *     in the client's shared memory: u32 segment id, i32 fd, i64 segment size, i64 byte offset,
 *     or, with bit 7 of the rank byte set, in a CUDA allocation: i32 device, i64 allocation size,
 *       i64 byte offset, 64 bytes of its IPC handle ({@code cuIpcGetMemHandle});
 *   and rank x i64 sizes (float32, C order)
 * </pre>
 * The reply: {@code u8 0x01, u8 k, k bytes of the backend's name, i64 op nanoseconds, i64 request nanoseconds}.
 * Errors are answered in JSON, as for JSON requests. Module loads and everything else travel as JSON.
 */
final class Frames {
    static final byte BINARY = 1;
    static final String[] OPS = {null, "ping", "selective_scan", "cross_scan", "cross_merge", "run"};
    /** Tensor slots; the first {@link #FIRST_OUTPUT} are inputs. */
    static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias", "x", "ys",
            "out", "last_state", "out0", "out1", "out2", "out3"};
    static final int FIRST_OUTPUT = 10;
    private static final int MAX_RANK = 16;
    /** Bit of the rank byte marking a CUDA reference. */
    private static final int CUDA = 0x80;
    /** Bytes of a CUDA IPC memory handle ({@code CU_IPC_HANDLE_SIZE}). */
    static final int IPC_HANDLE = 64;
    private static final java.util.Base64.Encoder BASE64 = java.util.Base64.getEncoder();

    private Frames() {}

    /** The request in {@code body} (position at its first byte, the marker). */
    static Request request(ByteBuffer body) {
        try {
            body.get(); // marker
            int op = body.get() & 0xff;
            if (op == 0 || op >= OPS.length) throw bad("an op code 1.." + (OPS.length - 1), Integer.toString(op));
            Request q = new Request(OPS[op]);
            int flags = body.get() & 0xff;
            q.deltaSoftplus = (flags & 1) != 0;
            q.returnLastState = (flags & 2) != 0;
            q.features = (flags & 4) != 0;
            q.ordered = (flags & 8) != 0;
            int count = body.get() & 0xff;
            q.handle = body.getLong();
            if (q.ordered) q.ticket = body.getInt();
            int k = body.get() & 0xff;
            if (k > 0) {
                byte[] name = new byte[k];
                body.get(name);
                q.backend = new String(name, StandardCharsets.US_ASCII);
            }
            for (int i = 0; i < count; i++) {
                int slot = body.get() & 0xff;
                int rank = body.get() & 0xff;
                boolean cuda = (rank & CUDA) != 0;
                rank &= ~CUDA;
                if (slot >= NAMES.length) throw bad("a tensor slot 0.." + (NAMES.length - 1), Integer.toString(slot));
                String name = NAMES[slot];
                if (rank > MAX_RANK) throw new Ss2dArgumentException(name, "at most " + MAX_RANK + " dimensions", Integer.toString(rank), null);
                Ref ref;
                if (cuda) {
                    int device = body.getInt();
                    long alloc = body.getLong();
                    long off = body.getLong();
                    byte[] handle = new byte[IPC_HANDLE];
                    body.get(handle);
                    ref = new Ref.Cuda(BASE64.encodeToString(handle), device, off, alloc, shape(body, name, rank));
                } else {
                    long seg = body.getInt() & 0xffffffffL;
                    long fd = body.getInt();
                    long size = body.getLong();
                    long off = body.getLong();
                    ref = new Ref.Host(seg, fd, size, off, shape(body, name, rank));
                }
                (slot < FIRST_OUTPUT ? q.inputs : q.outputs).put(name, ref);
            }
            if (body.hasRemaining()) throw bad("nothing after the last tensor", body.remaining() + " more bytes");
            return q;
        } catch (BufferUnderflowException e) {
            throw bad("a complete binary request", "a frame cut short");
        }
    }

    private static long[] shape(ByteBuffer body, String name, int rank) {
        long[] shape = new long[rank];
        for (int d = 0; d < rank; d++) {
            shape[d] = body.getLong();
            if (shape[d] < 0) throw new Ss2dArgumentException(name, "non-negative sizes", Long.toString(shape[d]), null);
        }
        return shape;
    }

    /** Writes the reply of a binary request that succeeded into {@code out} (cleared first), ready to send. */
    static void reply(ByteBuffer out, String backend, long opNanos, long requestNanos) {
        out.clear();
        out.putInt(0).put(BINARY);
        if (backend == null) {
            out.put((byte) 0);
        } else {
            out.put((byte) backend.length());
            for (int i = 0; i < backend.length(); i++) out.put((byte) backend.charAt(i));
        }
        out.putLong(opNanos).putLong(requestNanos);
        out.putInt(0, out.position() - 4).flip();
    }

    private static Ss2dArgumentException bad(String expected, String found) {
        return new Ss2dArgumentException("frame", expected, found, null);
    }
}
