package org.ss2d.cli.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * One client connection: frames in, frames out, one request at a time. A frame is a 4-byte little-endian
 * length and that many bytes of JSON, or of the binary form of the per-call requests ({@link Frames}); tensors
 * are never in it, only references to shared memory (see {@link Ops}). The first request must be {@code hello}, which names the client process and joins its
 * {@link Session}.
 */
final class Connection {
    /** Requests are small JSON headers; anything larger is a confused or hostile client. */
    static final int MAX_FRAME = 16 << 20;
    static final ObjectMapper JSON = new ObjectMapper();

    private final EngineServer server;
    private final SocketChannel channel;
    private static final int INITIAL_BUFFER = 1 << 16;
    /** Received bytes not yet handled, from index 0 to the position. */
    private ByteBuffer in = ByteBuffer.allocateDirect(INITIAL_BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private int frameEnd;
    /** Binary replies, written in one go. */
    private final ByteBuffer out = ByteBuffer.allocateDirect(512).order(ByteOrder.LITTLE_ENDIAN);
    private Session session;
    private Ops ops;

    Connection(EngineServer server, SocketChannel channel) {
        this.server = server;
        this.channel = channel;
    }

    void run() {
        try (channel) {
            UnixDomainPrincipal peer = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
            if (!peer.user().getName().equals(System.getProperty("user.name"))) {
                return; // the folder's mode already keeps others out; this is the second lock
            }
            ops = new Ops(server, this);
            while (true) {
                ByteBuffer body;
                try {
                    body = frame();
                } catch (EOFException e) {
                    return;
                }
                long t0 = System.nanoTime();
                boolean binary = body.hasRemaining() && body.get(body.position()) == Frames.BINARY;
                ObjectNode reply = null;
                String backend = null;
                try {
                    if (binary) {
                        Request q = Frames.request(body);
                        backend = q.op.equals("ping") ? null : ops.call(q);
                    } else {
                        byte[] json = new byte[body.remaining()];
                        body.get(json);
                        reply = ops.handle(JSON.readTree(json));
                        reply.put("ok", true);
                        reply.put("server_us", (System.nanoTime() - t0) / 1000); // the request's whole time here
                    }
                } catch (OrderFlags.Broken e) {
                    reply = error("broken", e.getMessage());
                } catch (Ops.Unsupported e) {
                    reply = error("unsupported", e.getMessage());
                } catch (LimitExceededException e) {
                    reply = error("limit", e.getMessage());
                } catch (Ss2dArgumentException e) {
                    reply = error("argument", e.getMessage());
                } catch (IllegalArgumentException e) {
                    reply = error("argument", e.getMessage());
                } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                    reply = error("failed", e.getClass().getSimpleName() + ": " + e.getMessage());
                }
                consumed();
                if (reply != null && ops.doneOnError()) reply.put("done", true);
                if (reply != null) {
                    write(reply);
                } else {
                    Frames.reply(out, backend, ops.engineNanos(), System.nanoTime() - t0);
                    while (out.hasRemaining()) channel.write(out);
                }
                if (ops.stopRequested()) {
                    server.stop();
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away (killed, or closed mid-frame): its session is left below
        } finally {
            if (ops != null) ops.close();
            if (session != null) server.leave(session);
        }
    }

    Session sessionOrNull() {
        return session;
    }

    Session session() {
        if (session == null) throw new Ss2dArgumentException("op", "hello first (naming the client process)", "no session yet", null);
        return session;
    }

    /** Joins the client's session; true when this connection opened it (the client's modules are gone). */
    boolean join(long pid, String token) {
        if (session != null) throw new Ss2dArgumentException("op", "one hello per connection", "a second hello", null);
        boolean[] created = new boolean[1];
        session = server.join(pid, token, created);
        return created[0];
    }

    private static ObjectNode error(String kind, String message) {
        ObjectNode n = JSON.createObjectNode();
        n.put("ok", false);
        n.put("kind", kind);
        n.put("message", message == null ? "(no message)" : message.strip().replaceAll("\\s*\\R\\s*", "; "));
        return n;
    }

    /**
     * The next frame's body, a view of {@link #in} (valid until {@link #consumed()}). Bytes are read as they come, so
     * a small request takes one read; a frame longer than the buffer grows it.
     */
    private ByteBuffer frame() throws IOException {
        need(4);
        int n = in.getInt(0);
        if (n < 0 || n > MAX_FRAME) throw new IOException("frame of " + n + " bytes");
        if (4 + n > in.capacity()) {
            ByteBuffer bigger = ByteBuffer.allocateDirect(4 + n).order(ByteOrder.LITTLE_ENDIAN);
            in.flip();
            in = bigger.put(in);
        }
        need(4 + n);
        frameEnd = 4 + n;
        return in.duplicate().order(ByteOrder.LITTLE_ENDIAN).position(4).limit(4 + n);
    }

    /** Drops the frame just handled from {@link #in}, keeping any bytes of the next one. */
    private void consumed() {
        in.flip().position(frameEnd);
        in.compact();
        if (in.capacity() > INITIAL_BUFFER && in.position() <= INITIAL_BUFFER) {
            // a large frame (a module's load) passed: give its buffer back
            in.flip();
            in = ByteBuffer.allocateDirect(INITIAL_BUFFER).order(ByteOrder.LITTLE_ENDIAN).put(in);
        }
    }

    private void need(int bytes) throws IOException {
        while (in.position() < bytes) {
            if (channel.read(in) < 0) throw new EOFException();
        }
    }

    private void write(ObjectNode reply) throws IOException {
        byte[] body = JSON.writeValueAsBytes(reply);
        ByteBuffer out = ByteBuffer.allocate(4 + body.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(body.length).put(body).flip();
        while (out.hasRemaining()) channel.write(out);
    }
}
