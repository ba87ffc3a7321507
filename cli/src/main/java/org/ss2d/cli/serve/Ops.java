package org.ss2d.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.DeviceMemory;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The requests a client can make. A tensor is referred to ({@link Ref}) as
 * {@code {"seg": id, "fd": n, "size": bytes, "off": byte offset, "shape": [...], "dtype": "float32"}}, or the
 * same fields in a binary frame ({@link Frames}): segment {@code id} of the client is its memfd {@code n},
 * mapped here once per session; the tensor is a view of it (no copy). Outputs are referred to the same way:
 * the client allocates them in its shared memory and the op writes into them, so every byte has one owner,
 * the client process. CUDA tensors are referred to by the IPC handle of their allocation and their offset in it.
 * The op calls ({@link #call}) are the same whichever frame brought them.
 */
final class Ops {
    /** A request this engine understands but cannot serve (yet): the client raises NotImplementedError. */
    static final class Unsupported extends RuntimeException {
        Unsupported(String message) {
            super(message);
        }
    }

    /**
     * 3: stream-ordered CUDA calls through host flags ({@code cuda_flags}, flag 8 with a ticket); a client falls back to
     * synchronous calls below it (2 had interprocess events, which a dead client could wedge).
     */
    static final int PROTOCOL = 3;

    private final EngineServer server;
    private final Connection connection;
    private final Map<String, Ss2d> facades = new HashMap<>();
    private boolean stop;
    /** Whether the current request has device tensors: its reply then waits for the CUDA stream, or is stream-ordered. */
    private boolean device;
    /** The device of the current request's CUDA tensors (the first one's). */
    private int cudaDevice = -1;
    /** The ordering pages of stream-ordered calls, per device ordinal: set up once per connection by {@code cuda_flags}. */
    private final Map<Integer, OrderFlags> flags = new HashMap<>();
    /** The page whose ready word the stream was made to wait on in the current call: its done word is owed. */
    private OrderFlags waited;
    private int ticket;
    /** Whether the last call wrote its done word although it failed (the error reply says so: the client waits for it). */
    private boolean doneOnError;
    private long engineNanos;
    static final int VIEWS = 512;
    private TensorScope viewScope;
    private final Map<ViewKey, Tensor> views = new java.util.LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ViewKey, Tensor> eldest) {
            if (size() <= VIEWS) return false;
            eldest.getValue().close();
            server.views.decrementAndGet();
            return true;
        }
    };
    /** Device views (cheap, no arena) of the current call, closed when it ends. */
    private final List<Tensor> callViews = new ArrayList<>();

    Ops(EngineServer server, Connection connection) {
        this.server = server;
        this.connection = connection;
    }

    boolean stopRequested() {
        return stop;
    }

    ObjectNode handle(JsonNode req) {
        String op = req.path("op").asText("");
        doneOnError = false;
        ObjectNode r = Connection.JSON.createObjectNode();
        switch (op) {
            case "hello" -> {
                r.put("new_session", connection.join(req.path("pid").asLong(), req.path("token").asText("")));
                r.put("pid", ProcessHandle.current().pid());
                r.put("protocol", PROTOCOL);
            }
            case "backends" -> backends(r);
            case "ping" -> { }
            case "cuda_flags" -> cudaFlags(req.path("device").asInt(-1), req.path("fd").asLong(-1), req.path("size").asLong(-1));
            case "stats" -> server.stats().forEach(r::put);
            case "shutdown" -> stop = true;
            case "selective_scan", "cross_scan", "cross_merge", "run" -> {
                r.put("backend", call(Request.fromJson(op, req)));
                r.put("engine_us", engineNanos / 1000);
            }
            case "load", "plan", "touch", "free" -> {
                Session s = connection.session();
                long t0 = System.nanoTime();
                switch (op) {
                    case "load" -> {
                        Loaded l = Loaded.load(this, s, req);
                        r.put("handle", s.add(l));
                        r.set("info", l.info());
                    }
                    case "plan" -> {
                        Loaded l = s.handle(req.path("handle").asLong(-1));
                        ArrayNode shapes = r.putArray("shapes");
                        for (long[] shape : l.plan(req.path("what").asText(""), Ref.shape(req.path("x_shape"), "x"))) {
                            ArrayNode a = shapes.addArray();
                            for (long d : shape) a.add(d);
                        }
                    }
                    case "touch" -> s.handle(req.path("handle").asLong(-1)).touch();
                    case "free" -> s.free(req.path("handle").asLong(-1));
                    default -> throw new AssertionError(op);
                }
                r.put("engine_us", (System.nanoTime() - t0) / 1000);
            }
            default -> throw new Ss2dArgumentException("op", "one of hello, ping, backends, cuda_flags, selective_scan, cross_scan, cross_merge, "
                    + "load, run, plan, touch, free, stats, shutdown", "\"" + op + "\"", null);
        }
        return r;
    }

    /**
     * Runs an op call on the client's tensors; returns the backend that ran it. {@link #engineNanos()} is then the
     * op's own time: the facade call (validation, dispatch, the kernels) and, for device tensors, the wait for the
     * stream, without finding the tensors' views.
     */
    String call(Request q) {
        Session s = connection.session();
        device = false;
        cudaDevice = -1;
        engineNanos = 0;
        doneOnError = false;
        try {
            switch (q.op) {
                case "selective_scan" -> {
                    ScanArgs a = ScanArgs.builder(in(s, q, "u"), in(s, q, "delta"), in(s, q, "A"), in(s, q, "B"), in(s, q, "C"))
                            .D(optional(s, q, "D")).z(optional(s, q, "z")).deltaBias(optional(s, q, "delta_bias"))
                            .deltaSoftplus(q.deltaSoftplus).returnLastState(q.returnLastState).build();
                    Tensor out = out(s, q, "out");
                    Tensor last = q.returnLastState ? out(s, q, "last_state") : null;
                    Ss2d ss = facade(q.backend);
                    long t0 = System.nanoTime();
                    begin(q);
                    ss.selectiveScanInto(a, out, last);
                    return finish(ss.lastBackend().name(), t0);
                }
                case "cross_scan", "cross_merge" -> {
                    boolean scan = q.op.equals("cross_scan");
                    Tensor x = in(s, q, scan ? "x" : "ys");
                    Tensor out = out(s, q, "out");
                    Ss2d ss = facade(q.backend);
                    long t0 = System.nanoTime();
                    begin(q);
                    if (scan) ss.crossScanInto(x, out); else ss.crossMergeInto(x, out);
                    return finish(ss.lastBackend().name(), t0);
                }
                case "run" -> {
                    Loaded l = s.handle(q.handle);
                    Tensor x = in(s, q, "x");
                    List<Tensor> outs = new ArrayList<>();
                    for (String name : q.outputs.keySet()) outs.add(out(s, q, name)); // "out", or "out0".."out3" for features
                    long t0 = System.nanoTime();
                    begin(q);
                    return finish(l.run(this, q, x, outs), t0);
                }
                default -> throw new AssertionError(q.op);
            }
        } catch (RuntimeException | Error e) {
            if (waited != null) {
                // the op failed after the stream was made to wait: kernels it launched before failing may still read
                // the client's inputs, so the done word follows them, and the error reply tells the client to wait for it
                try {
                    waited.done(ticket);
                    doneOnError = true;
                } catch (RuntimeException r) {
                    e.addSuppressed(r);
                }
            }
            throw e;
        } finally {
            waited = null;
            for (Tensor t : callViews) t.close();
            callViews.clear();
        }
    }

    /**
     * Right before the op, once every tensor has its view: a stream-ordered call on CUDA tensors makes the backend's
     * stream wait until the client's ready word reaches the call's ticket, which the client's stream (PyTorch's current
     * one) writes after everything queued there before the call (the inputs' producers, the outputs' earlier users).
     */
    private void begin(Request q) {
        if (!q.ordered) return;
        if (!device) throw new Ss2dArgumentException("ordered", "CUDA tensors in a stream-ordered call", "none", null);
        OrderFlags f = flags.get(cudaDevice);
        if (f == null) {
            throw new Ss2dArgumentException("ordered", "a cuda_flags request on this connection for cuda:" + cudaDevice
                    + " first", "none", null);
        }
        f.checkUsable();
        f.waitFor(q.ticket);
        waited = f;
        ticket = q.ticket;
    }

    /** Whether the last {@link #call} failed after writing its done word (the client must wait for it). */
    boolean doneOnError() {
        return doneOnError;
    }

    private String finish(String backend, long t0) {
        if (waited != null) {
            // stream-ordered: the done word follows the op on the stream; the client's stream waits for it
            waited.done(ticket);
            waited = null;
        } else if (device) {
            // Outputs on the device are written by work queued on the backend's stream: the client may
            // use them as soon as the reply arrives, so the reply waits for the stream.
            Backends.get("cuda").synchronize();
        }
        engineNanos = System.nanoTime() - t0;
        return backend;
    }

    /**
     * Sets up this connection's ordering page for stream-ordered calls on {@code device}: maps the client's descriptor
     * {@code fd} ({@code size} bytes) and registers it for the stream ({@link OrderFlags}). Once per connection and
     * device: the tickets count per connection, which carries one request at a time.
     */
    private void cudaFlags(int device, long fd, long size) {
        Session s = connection.session();
        Backend cuda = cudaBackend("cuda_flags", device);
        if (flags.containsKey(device)) {
            throw new Ss2dArgumentException("cuda_flags", "one request per connection and device", "a second one for cuda:" + device, null);
        }
        if (fd < 0) throw new Ss2dArgumentException("fd", "the client's descriptor of its flags page", Long.toString(fd), null);
        OrderFlags f = OrderFlags.open(cuda, device, s.pid(), fd, size);
        flags.put(device, f);
        server.watch(f);
    }

    /** The CUDA backend, refusing a device it does not run on by {@code name}. */
    private static Backend cudaBackend(String name, int device) {
        Backend cuda;
        try {
            cuda = Backends.get("cuda");
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new Unsupported(name + ": a CUDA tensor, but this engine has no CUDA backend (" + e.getMessage() + ")");
        }
        String engineDevice = cuda.capabilities().device();
        String wanted = "cuda:" + device;
        if (!engineDevice.contains("(" + wanted + ",") && !engineDevice.contains("(" + wanted + ")")) {
            throw new Ss2dArgumentException(name, "a tensor on the engine's CUDA device, " + engineDevice
                    + " (ss2d.cuda.device)", wanted, null);
        }
        return cuda;
    }

    /** The op's time in the last {@link #call}. */
    long engineNanos() {
        return engineNanos;
    }

    /** The facade for the request's backend ({@code auto} when absent); one per connection and name. */
    Ss2d facade(String backend) {
        String name = backend == null ? "auto" : backend;
        Ss2d ss = facades.get(name);
        if (ss == null) {
            try {
                ss = Ss2d.on(name);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new Ss2dArgumentException("backend", e.getMessage());
            }
            facades.put(name, ss);
        }
        return ss;
    }

    private static void backends(ObjectNode r) {
        ArrayNode list = r.putArray("backends");
        for (Backends.Entry e : Backends.list()) {
            ObjectNode n = list.addObject();
            n.put("name", e.name());
            n.put("auto", e.provider().autoSelectable());
            n.put("rank", e.provider().rank());
            n.put("available", e.available());
            if (!e.available()) {
                n.put("reason", e.availability().reason());
                continue;
            }
            try {
                Backend b = Backends.get(e.name());
                Capabilities c = b.capabilities();
                n.put("device", c.device());
                if (c.maxDstate() != Capabilities.UNLIMITED) n.put("max_dstate", c.maxDstate());
            } catch (RuntimeException ex) {
                n.put("available", false);
                n.put("reason", "creation failed: " + ex.getMessage());
            }
        }
        try {
            r.put("auto", Backends.best().name());
        } catch (RuntimeException ex) {
            r.putNull("auto");
        }
    }

    private Tensor in(Session s, Request q, String name) {
        return cached(s, q.input(name), name);
    }

    private Tensor optional(Session s, Request q, String name) {
        Ref ref = q.inputs.get(name);
        return ref == null ? null : cached(s, ref, name);
    }

    private Tensor out(Session s, Request q, String name) {
        return cached(s, q.output(name), name);
    }

    /** What a view of host memory is cached by; the shape is checked on a hit (a block reused with another shape). */
    private record ViewKey(long seg, long off, long size, String name) {}

    /**
     * The view of {@code ref} for one call, kept for the next calls of this connection. A tensor over host memory
     * costs an arena (created, and closed with a handshake across the JVM's threads) that would dominate a small
     * op's time; the client sends the same blocks again and again (its inputs, and its pool's reused output
     * blocks), so views are cached per connection (one thread: no view is closed while in use) by segment,
     * offset, size and name, and checked for the shape, up to {@link #VIEWS}. Each use marks the view modified: the
     * client may have written the memory since, and copies kept elsewhere (a device upload) must not be trusted.
     */
    private Tensor cached(Session s, Ref ref, String name) {
        ViewKey key = ref instanceof Ref.Host h ? new ViewKey(h.seg(), h.off(), h.size(), name) : null;
        Tensor t = key == null ? null : views.get(key);
        if (t == null || t.isClosed() || !sameShape(t, ref.shape())) {
            if (viewScope == null) viewScope = s.scope().child("connection views");
            if (t != null) {
                views.remove(key);
                server.views.decrementAndGet();
                t.close();
            }
            t = view(s, viewScope, ref, name);
            if (key != null) {
                server.views.incrementAndGet();
                views.put(key, t);
            } else {
                callViews.add(t);
            }
        }
        t.markModified();
        return t;
    }

    private static boolean sameShape(Tensor t, long[] shape) {
        if (t.rank() != shape.length) return false;
        for (int i = 0; i < shape.length; i++) {
            if (t.dim(i) != shape[i]) return false;
        }
        return true;
    }

    /**
     * Frees this connection's views (before its session may unmap their memory) and its ordering pages: each releases
     * from the host whatever wait for the client this engine's stream still has (a client killed with GPU work queued
     * ahead of its ticket never writes it), then waits for the stream, unregisters and unmaps. The client keeps its own
     * mapping for as long as it lives, so a done word that this engine's stream writes later still has its memory.
     */
    void close() {
        // the pages first: their close waits for the stream, so nothing queued still uses what goes below
        for (OrderFlags f : flags.values()) {
            server.unwatch(f);
            try {
                f.close();
            } catch (RuntimeException e) {
                System.getLogger("org.ss2d.cli.serve").log(System.Logger.Level.WARNING, "closing stream-order flags of cuda:" + f.device + ": " + e);
            }
        }
        flags.clear();
        server.views.addAndGet(-views.size());
        views.clear();
        callViews.clear();
        if (viewScope != null) viewScope.release();
    }

    /**
     * A tensor of {@code scope} viewing the client's shared memory that {@code ref} names, or its CUDA memory for a
     * {@code {"cuda": {handle, device, offset, alloc_bytes}}} reference (see {@link #deviceView}).
     */
    Tensor view(Session s, TensorScope scope, Ref ref, String name) {
        if (ref instanceof Ref.Cuda c) {
            Tensor t = deviceView(s, scope, c, name);
            if (!device) cudaDevice = c.device();
            device = true;
            return t;
        }
        Ref.Host h = (Ref.Host) ref;
        long[] shape = h.shape();
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), 4L);
        long off = h.off();
        long size = h.size();
        if (off < 0 || off % 4 != 0 || size < 0 || off > size || bytes > size - off) {
            throw new Ss2dArgumentException(name, "a float32" + Shapes.format(shape) + " inside its segment",
                    "offset " + off + " + " + bytes + " bytes in a segment of " + size, null);
        }
        MemorySegment seg = s.segment(name, h.seg(), h.fd(), size);
        return scope.wrap(name, seg.asSlice(off, bytes), DType.F32, shape);
    }

    /**
     * A device tensor over the client's CUDA allocation: the handle is the one {@code cuIpcGetMemHandle} gave for
     * the allocation's base, {@code offset} the tensor's distance from it. The allocation is opened once per
     * session and stays the client's (PyTorch's); nothing is copied.
     */
    private static Tensor deviceView(Session s, TensorScope scope, Ref.Cuda ref, String name) {
        long[] shape = ref.shape();
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), 4L);
        Backend cuda = cudaBackend(name, ref.device());
        long off = ref.offset();
        long alloc = ref.allocBytes();
        if (off < 0 || off % 4 != 0 || alloc < 0 || off > alloc || bytes > alloc - off) {
            throw new Ss2dArgumentException(name, "a float32" + Shapes.format(shape) + " inside its CUDA allocation",
                    "offset " + off + " + " + bytes + " bytes in an allocation of " + alloc, null);
        }
        String key = ref.handle();
        byte[] handle;
        try {
            handle = java.util.Base64.getDecoder().decode(key);
        } catch (IllegalArgumentException e) {
            throw new Ss2dArgumentException(name, "a base64 CUDA IPC handle", "\"" + key + "\"", null);
        }
        DeviceMemory base = s.ipc(key, handle, alloc, cuda);
        return Tensor.device(scope, DType.F32, shape, new DeviceView(base, off, bytes));
    }

    /** A slice of an IPC allocation: freeing the tensor leaves the allocation open (the session closes it). */
    private record DeviceView(DeviceMemory base, long offset, long byteSize) implements DeviceMemory {
        @Override
        public String device() {
            return base.device();
        }

        @Override
        public String backend() {
            return base.backend();
        }

        @Override
        public long address() {
            return base.address() + offset;
        }

        @Override
        public void free() {
            // the allocation is the client's; the session unmaps it
        }
    }
}
