package org.ss2d.cli.serve;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The engine process behind the Python package: accepts clients on a Unix domain socket and serves each
 * connection on its own virtual thread. Connections of one client process share a {@link Session} (its
 * mapped shared memory and loaded weights), which closes when the last of them does, so a client that dies
 * mid-call leaves nothing behind here.
 *
 * <p>Who may connect: the socket lives in a folder that must belong to this user with no access for others
 * (checked at start), and every peer's user is checked again on accept.
 */
public final class EngineServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.ss2d.cli.serve");

    private final Path socket;
    private final ServerSocketChannel listener;
    private final long idleExitMillis;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    /** Views of client memory cached by all connections ({@link Ops}), each at most {@link Ops#VIEWS}. */
    final java.util.concurrent.atomic.AtomicLong views = new java.util.concurrent.atomic.AtomicLong();
    /** The ordering pages of stream-ordered CUDA calls ({@link OrderFlags}), one per connection and device, while open. */
    private final Set<OrderFlags> orderFlags = ConcurrentHashMap.newKeySet();
    private final long orderDeadlineNanos = orderDeadlineNanos();
    private volatile Thread orderWatch;
    private volatile long lastActivity = System.currentTimeMillis();
    private volatile boolean stopping;

    private EngineServer(Path socket, ServerSocketChannel listener, long idleExitMillis) {
        this.socket = socket;
        this.listener = listener;
        this.idleExitMillis = idleExitMillis;
    }

    /** Binds {@code socket} after checking its folder; a stale socket file (nobody listening) is replaced. */
    public static EngineServer bind(Path socket, long idleExitMillis) throws IOException {
        Path dir = socket.toAbsolutePath().getParent();
        checkPrivateFolder(dir);
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (listening(socket)) {
                throw new Ss2dArgumentException("--socket", "a free socket path", socket + " (an engine already listens there)", null);
            }
            Files.delete(socket);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ch.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        return new EngineServer(socket, ch, idleExitMillis);
    }

    private static void checkPrivateFolder(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new Ss2dArgumentException("--socket", "a path in an existing folder", dir + " is not a folder", null);
        }
        String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        boolean open = perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"));
        if (!owner.equals(System.getProperty("user.name")) || open) {
            throw new Ss2dArgumentException("--socket", "a folder owned by " + System.getProperty("user.name")
                    + " with mode 0700", dir + " (owner " + owner + ", mode " + PosixFilePermissions.toString(perms) + ")", null);
        }
    }

    private static boolean listening(Path socket) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    /** Accepts clients until {@link #stop()} or until idle for the configured time. */
    public void serve() throws IOException {
        Thread watchdog = Thread.ofPlatform().daemon().name("ss2d-serve-idle").start(this::idleWatch);
        System.out.println("ss2d serve: listening on " + socket + " (pid " + ProcessHandle.current().pid() + ")");
        System.out.flush();
        try {
            while (!stopping) {
                SocketChannel c;
                try {
                    c = listener.accept();
                } catch (ClosedChannelException e) {
                    break;
                }
                connections.incrementAndGet();
                lastActivity = System.currentTimeMillis();
                Thread.ofPlatform().daemon().name("ss2d-serve-connection").start(() -> {
                    try {
                        new Connection(this, c).run();
                    } finally {
                        connections.decrementAndGet();
                        lastActivity = System.currentTimeMillis();
                    }
                });
            }
        } finally {
            watchdog.interrupt();
            drainOrder();
        }
    }

    /**
     * Before the process exits (a {@code shutdown} request; connections may still be open): lets the CUDA stream run
     * what stream-ordered calls queued, so that every done word a client's stream waits for gets written (a context
     * torn down at exit would drop them, and the client's stream would wait for ever). Waits up to 2 s for the clients'
     * tickets, releases those not reached (their calls' results are undefined: the engine is going), then synchronises.
     */
    private void drainOrder() {
        if (orderFlags.isEmpty()) return;
        long until = System.nanoTime() + 2_000_000_000L;
        try {
            while (System.nanoTime() < until && orderFlags.stream().anyMatch(f -> stuckAtExit(f))) {
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // each page on its own: a connection closing at this moment (its page unmapped under us) must not keep the
        // other pages' waits unreleased, nor the stream unsynchronised
        for (OrderFlags f : orderFlags) {
            try {
                f.release();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "ss2d serve: releasing a stream-order page at exit: " + e);
            }
        }
        try {
            org.ss2d.Backends.get("cuda").synchronize();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "ss2d serve: draining the CUDA stream at exit: " + e);
        }
    }

    /** Whether {@code f} still holds a wait its client's stream has not reached; a page closing meanwhile holds none. */
    private static boolean stuckAtExit(OrderFlags f) {
        try {
            return f.stuck(System.nanoTime(), 0);
        } catch (RuntimeException e) {
            return false;
        }
    }

    private void idleWatch() {
        while (!stopping && idleExitMillis > 0) {
            try {
                Thread.sleep(Math.min(1000, idleExitMillis));
            } catch (InterruptedException e) {
                return;
            }
            if (connections.get() == 0 && System.currentTimeMillis() - lastActivity > idleExitMillis) {
                LOG.log(System.Logger.Level.INFO, "ss2d serve: idle for " + idleExitMillis / 1000 + " s, exiting");
                stop();
            }
        }
    }

    /**
     * How long this engine's stream may wait for a client's ticket ({@link OrderFlags}) before it releases the wait
     * itself: {@code -Dss2d.serve.order-deadline} or {@code $SS2D_ORDER_DEADLINE}, in seconds (decimals allowed);
     * 60 by default. A client's stream that is legitimately busy longer than this before a call (a long PyTorch
     * job queued ahead of it) needs a longer deadline.
     */
    static long orderDeadlineNanos() {
        String v = System.getProperty("ss2d.serve.order-deadline", System.getenv("SS2D_ORDER_DEADLINE"));
        double seconds = 60;
        if (v != null && !v.isBlank()) {
            try {
                seconds = Double.parseDouble(v.strip());
            } catch (NumberFormatException e) {
                seconds = -1;
            }
            if (!(seconds > 0) || seconds > 1e6) {
                throw new Ss2dArgumentException("ss2d.serve.order-deadline", "seconds above 0 and at most 1e6 (-Dss2d.serve.order-deadline or SS2D_ORDER_DEADLINE)", "\"" + v + "\"", null);
            }
        }
        return (long) (seconds * 1e9);
    }

    /** Watches {@code f} until {@link #unwatch}: past the deadline with its client's ticket not reached, it is expired. */
    void watch(OrderFlags f) {
        orderFlags.add(f);
        if (orderWatch == null) {
            synchronized (this) {
                if (orderWatch == null) orderWatch = Thread.ofPlatform().daemon().name("ss2d-serve-order-deadline").start(this::orderWatch);
            }
        }
    }

    void unwatch(OrderFlags f) {
        orderFlags.remove(f);
    }

    private void orderWatch() {
        long tick = Math.max(5_000_000L, Math.min(1_000_000_000L, orderDeadlineNanos / 8));
        while (!stopping) {
            try {
                Thread.sleep(java.time.Duration.ofNanos(tick));
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (OrderFlags f : orderFlags) {
                watchOne(f, now);
            }
        }
    }

    /** Expires {@code f} if it is stuck past the deadline; never throws (the watchdog must outlive any page). */
    private boolean watchOne(OrderFlags f, long now) {
        try {
            if (!f.stuck(now, orderDeadlineNanos)) return false;
            String why = "stream order broken: the engine's CUDA stream waited more than " + orderDeadlineNanos / 1e9
                    + " s for this connection's call to be reached on the client's stream (SS2D_ORDER_DEADLINE), and went on"
                    + " without it: that call's outputs are undefined; later calls on this connection are refused";
            f.expire(why);
            LOG.log(System.Logger.Level.WARNING, "ss2d serve: " + why);
            return true;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "ss2d serve: order deadline check: " + e);
            return false;
        }
    }

    /** Stops accepting; connections in progress finish their current call. */
    public void stop() {
        stopping = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing a listener we are leaving anyway
        }
    }

    /** The session of client {@code pid} with {@code token}, joined by one more connection. */
    Session join(long pid, String token, boolean[] created) {
        return sessions.compute(pid + "/" + token, (k, s) -> {
            created[0] = s == null;
            Session r = s == null ? new Session(pid, token) : s;
            r.connections++;
            return r;
        });
    }

    /** One connection of the session closed; the last one closes the session and frees what it held. */
    void leave(Session s) {
        sessions.computeIfPresent(s.key(), (k, cur) -> {
            if (--cur.connections > 0) return cur;
            cur.close();
            return null;
        });
    }

    /** Counts for the {@code stats} request (tests check that a killed client leaves nothing). */
    Map<String, Long> stats() {
        long segments = 0, handles = 0, bytes = 0, ipc = 0;
        for (Session s : sessions.values()) {
            ipc += s.ipcCount();
            segments += s.segmentCount();
            handles += s.handleCount();
            bytes += s.mappedBytes();
        }
        return Map.of("sessions", (long) sessions.size(), "connections", (long) connections.get(),
                "segments", segments, "handles", handles, "mapped_bytes", bytes, "cuda_ipc", ipc,
                "cuda_flags", (long) orderFlags.size(), "views", views.get(), "views_per_connection", (long) Ops.VIEWS);
    }

    @Override
    public void close() throws IOException {
        stop();
        Files.deleteIfExists(socket);
    }
}
