package org.ss2d.cli.serve;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.ss2d.spi.Backend;
import org.ss2d.spi.StreamFlags;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * One connection's page of ordering counters for one CUDA device, in a memfd of the client that both processes map and
 * register for their streams ({@code cuda_flags} request). Two 32-bit words: {@link #READY}, which the client's stream
 * writes (call k: k, after PyTorch's work queued before the call) and this engine's stream waits on; {@link #DONE},
 * which this engine's stream writes after the op and the client's stream waits on. Tickets count up from 1 per
 * connection and device and wrap around: every comparison is cyclic ({@code (int) (word - k) >= 0}), which holds while
 * fewer than 2^31 tickets are outstanding (one, here: a connection carries one request at a time).
 *
 * <p>Either side can release the other's stream from the host: a word written here is seen by the waiting stream. So a
 * client that dies (or is too slow, see {@link #expire}) never leaves this engine's stream waiting for ever.
 */
final class OrderFlags implements AutoCloseable {
    static final long READY = 0;
    static final long DONE = 64;             // its own cache line: the two words are written by different processes
    static final long MIN_BYTES = 128;
    static final long MAX_BYTES = 1 << 20;
    private static final VarHandle WORD = ValueLayout.JAVA_INT.varHandle();

    /** A call on a connection whose ordering expired: the client closes the connection (reply kind {@code broken}). */
    static final class Broken extends RuntimeException {
        Broken(String message) {
            super(message);
        }
    }

    /** The latest wait queued on the stream: its ticket and when (System.nanoTime). */
    private record Pending(int ticket, long since) {}

    final int device;
    private final Arena arena;
    private final MemorySegment page;
    private final StreamFlags flags;
    private volatile Pending pending;
    private volatile String broken;
    private volatile boolean closed;

    private OrderFlags(int device, Arena arena, MemorySegment page, StreamFlags flags) {
        this.device = device;
        this.arena = arena;
        this.page = page;
        this.flags = flags;
    }

    /** Maps descriptor {@code fd} of process {@code pid} ({@code bytes} long) and registers it for {@code cuda}'s stream. */
    static OrderFlags open(Backend cuda, int device, long pid, long fd, long bytes) {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
            throw new Ss2dArgumentException("size", MIN_BYTES + ".." + MAX_BYTES + " bytes of ordering flags", Long.toString(bytes), null);
        }
        Path p = Path.of("/proc", Long.toString(pid), "fd", Long.toString(fd));
        Arena arena = Arena.ofShared();
        try {
            MemorySegment page;
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                if (ch.size() < bytes) {
                    throw new Ss2dArgumentException("fd", "shared memory of at least " + bytes + " bytes", ch.size() + " bytes behind " + p, null);
                }
                page = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            } catch (IOException e) {
                throw new Ss2dArgumentException("fd", "shared memory that this engine can map", p + " (" + e.getMessage() + ")", null);
            }
            return new OrderFlags(device, arena, page, cuda.registerStreamFlags(page));
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Refuses a call on a connection whose ordering {@link #expire expired}. */
    void checkUsable() {
        String b = broken;
        if (b != null) throw new Broken(b);
    }

    /** Queues on the stream the wait for the client's ticket {@code k} (its stream wrote it after the call's inputs). */
    void waitFor(int k) {
        pending = new Pending(k, System.nanoTime());
        flags.waitAtLeast(READY, k);
    }

    /** Queues on the stream the write of ticket {@code k}, after the op: the client's stream waits for it. */
    void done(int k) {
        flags.write(DONE, k);
    }

    int ready() {
        return (int) WORD.getVolatile(page, READY);
    }

    /** Whether the stream still waits for the client's latest ticket, queued more than {@code nanos} ago. */
    boolean stuck(long now, long nanos) {
        Pending p = pending;
        return p != null && broken == null && !closed && ready() - p.ticket() < 0 && now - p.since() > nanos;
    }

    /**
     * Releases every wait this connection queued: writes, from the host, the latest ticket waited for into the ready
     * word (every queued wait is for that ticket or one before it, cyclically). After this the client's stream may
     * still write older tickets (a slow client, not a dead one); those only come after it reached them, so they
     * release nothing too early, and the client's ordering is no longer trusted ({@link #expire}).
     */
    synchronized void release() {
        Pending p = pending;
        if (!closed && p != null && ready() - p.ticket() < 0) WORD.setVolatile(page, READY, p.ticket());
    }

    /**
     * The deadline passed with the stream still waiting for the client: releases the stream (the call's op then runs
     * on inputs that may not be ready: its result is undefined) and refuses this connection's later calls.
     */
    void expire(String why) {
        broken = why;
        release();
    }

    boolean expired() {
        return broken != null;
    }

    /** Releases the stream, waits for it, unregisters and unmaps the page. */
    @Override
    public void close() {
        release();
        synchronized (this) {
            closed = true;       // the watchdog may still hold this page: it no longer touches its memory
        }
        try {
            flags.close();
        } finally {
            arena.close();
        }
    }
}
