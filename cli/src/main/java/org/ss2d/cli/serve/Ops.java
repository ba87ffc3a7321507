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
 * The requests a client can make. A tensor is referred to as
 * {@code {"seg": id, "fd": n, "size": bytes, "off": byte offset, "shape": [...], "dtype": "float32"}}:
 * segment {@code id} of the client is its memfd {@code n}, mapped here once per session; the tensor is a
 * view of it (no copy). Outputs are referred to the same way: the client allocates them in its shared
 * memory and the op writes into them, so every byte has one owner, the client process.
 * {@code {"cuda": {...}}} references (CUDA IPC handles) are part of the protocol but not served yet.
 */
final class Ops {
    /** A request this engine understands but cannot serve (yet): the client raises NotImplementedError. */
    static final class Unsupported extends RuntimeException {
        Unsupported(String message) {
            super(message);
        }
    }

    private final EngineServer server;
    private final Connection connection;
    private final Map<String, Ss2d> facades = new HashMap<>();
    private boolean stop;
    /** Whether the current request has device tensors: its reply then waits for the CUDA stream. */
    private boolean device;
    static final int VIEWS = 512;
    private TensorScope viewScope;
    private final Map<String, Tensor> views = new java.util.LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Tensor> eldest) {
            if (size() <= VIEWS) return false;
            eldest.getValue().close();
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
        ObjectNode r = Connection.JSON.createObjectNode();
        switch (op) {
            case "hello" -> {
                r.put("new_session", connection.join(req.path("pid").asLong(), req.path("token").asText("")));
                r.put("pid", ProcessHandle.current().pid());
                r.put("protocol", 1);
            }
            case "backends" -> backends(r);
            case "ping" -> { }
            case "stats" -> server.stats().forEach(r::put);
            case "shutdown" -> stop = true;
            case "selective_scan", "cross_scan", "cross_merge", "load", "run", "plan", "touch", "free" -> {
                Session s = connection.session();
                long t0 = System.nanoTime();
                device = false;
                try {
                    switch (op) {
                        case "selective_scan" -> scan(s, req, r);
                        case "cross_scan" -> {
                            Ss2d ss = facade(req);
                            ss.crossScanInto(in(s, req, "x"), out(s, req, "out"));
                            r.put("backend", ss.lastBackend().name());
                        }
                        case "cross_merge" -> {
                            Ss2d ss = facade(req);
                            ss.crossMergeInto(in(s, req, "ys"), out(s, req, "out"));
                            r.put("backend", ss.lastBackend().name());
                        }
                        case "load" -> {
                            Loaded l = Loaded.load(this, s, req);
                            r.put("handle", s.add(l));
                            r.set("info", l.info());
                        }
                        case "run" -> {
                            Loaded l = s.handle(req.path("handle").asLong(-1));
                            Tensor x = in(s, req, "x");
                            List<Tensor> outs = new ArrayList<>();
                            var names = req.path("outputs").fieldNames(); // "out", or "out0".."out3" for features
                            while (names.hasNext()) outs.add(out(s, req, names.next()));
                            r.put("backend", l.run(this, req, x, outs));
                        }
                        case "plan" -> {
                            Loaded l = s.handle(req.path("handle").asLong(-1));
                            ArrayNode shapes = r.putArray("shapes");
                            for (long[] shape : l.plan(req.path("what").asText(""), shape(req.path("x_shape"), "x"))) {
                                ArrayNode a = shapes.addArray();
                                for (long d : shape) a.add(d);
                            }
                        }
                        case "touch" -> s.handle(req.path("handle").asLong(-1)).touch();
                        case "free" -> s.free(req.path("handle").asLong(-1));
                        default -> throw new AssertionError(op);
                    }
                    if (device) {
                        // Outputs on the device are written by work queued on the backend's stream: the client may
                        // use them as soon as the reply arrives, so the reply waits for the stream.
                        Backends.get("cuda").synchronize();
                    }
                    r.put("engine_us", (System.nanoTime() - t0) / 1000);
                } finally {
                    for (Tensor t : callViews) t.close();
                    callViews.clear();
                }
            }
            default -> throw new Ss2dArgumentException("op", "one of hello, ping, backends, selective_scan, cross_scan, cross_merge, "
                    + "load, run, plan, touch, free, stats, shutdown", "\"" + op + "\"", null);
        }
        return r;
    }

    private void scan(Session s, JsonNode req, ObjectNode r) {
        JsonNode opt = req.path("options");
        boolean last = opt.path("return_last_state").asBoolean(false);
        ScanArgs a = ScanArgs.builder(in(s, req, "u"), in(s, req, "delta"), in(s, req, "A"),
                        in(s, req, "B"), in(s, req, "C"))
                .D(optional(s, req, "D")).z(optional(s, req, "z")).deltaBias(optional(s, req, "delta_bias"))
                .deltaSoftplus(opt.path("delta_softplus").asBoolean(false)).returnLastState(last).build();
        Ss2d ss = facade(req);
        ss.selectiveScanInto(a, out(s, req, "out"), last ? out(s, req, "last_state") : null);
        r.put("backend", ss.lastBackend().name());
    }

    /** The facade for the request's backend ({@code auto} when absent); one per connection and name. */
    Ss2d facade(JsonNode req) {
        String name = req.path("backend").isTextual() ? req.path("backend").asText() : "auto";
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

    Tensor in(Session s, JsonNode req, String name) {
        JsonNode ref = req.path("inputs").path(name);
        if (ref.isMissingNode() || ref.isNull()) {
            throw new Ss2dArgumentException(name, "a tensor", "nothing", null);
        }
        return cached(s, ref, name);
    }

    private Tensor optional(Session s, JsonNode req, String name) {
        JsonNode ref = req.path("inputs").path(name);
        return ref.isMissingNode() || ref.isNull() ? null : cached(s, ref, name);
    }

    private Tensor out(Session s, JsonNode req, String name) {
        JsonNode ref = req.path("outputs").path(name);
        if (ref.isMissingNode() || ref.isNull()) {
            throw new Ss2dArgumentException(name, "an output in the client's shared memory", "nothing", null);
        }
        return cached(s, ref, name);
    }

    /**
     * The view of {@code ref} for one call, kept for the next calls of this connection. A tensor over host memory
     * costs an arena (created, and closed with a handshake across the JVM's threads) that would dominate a small
     * op's time; the client sends the same blocks again and again (its inputs, and its pool's reused output
     * blocks), so views are cached per connection (one thread: no view is closed while in use) by segment,
     * offset, shape and name, up to {@link #VIEWS}. Each use marks the view modified: the client may have written
     * the memory since, and copies kept elsewhere (a device upload) must not be trusted.
     */
    private Tensor cached(Session s, JsonNode ref, String name) {
        String key = ref.has("cuda") ? null : ref.path("seg").asLong() + ":" + ref.path("off").asLong() + ":"
                + ref.path("size").asLong() + ":" + ref.path("shape") + ":" + ref.path("dtype").asText() + ":" + name;
        Tensor t = key == null ? null : views.get(key);
        if (t == null || t.isClosed()) {
            if (viewScope == null) viewScope = s.scope().child("connection views");
            t = view(s, viewScope, ref, name);
            if (key != null) views.put(key, t);
            else callViews.add(t);
        }
        t.markModified();
        return t;
    }

    /** Frees this connection's views (before its session may unmap their memory). */
    void close() {
        views.clear();
        callViews.clear();
        if (viewScope != null) viewScope.release();
    }

    /**
     * A tensor of {@code scope} viewing the client's shared memory that {@code ref} names, or its CUDA memory for a
     * {@code {"cuda": {handle, device, offset, alloc_bytes}}} reference (see {@link #deviceView}).
     */
    Tensor view(Session s, TensorScope scope, JsonNode ref, String name) {
        if (ref.has("cuda")) {
            device = true;
            return deviceView(s, scope, ref, name);
        }
        String dtype = ref.path("dtype").asText("");
        if (!dtype.equals("float32")) {
            throw new Ss2dArgumentException(name, "float32 values (the engine's compute dtype)", "\"" + dtype + "\"", null);
        }
        long[] shape = shape(ref.path("shape"), name);
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), 4L);
        long off = ref.path("off").asLong(-1);
        long size = ref.path("size").asLong(-1);
        if (off < 0 || off % 4 != 0 || size < 0 || off > size || bytes > size - off) {
            throw new Ss2dArgumentException(name, "a float32" + Shapes.format(shape) + " inside its segment",
                    "offset " + off + " + " + bytes + " bytes in a segment of " + size, null);
        }
        MemorySegment seg = s.segment(name, ref.path("seg").asLong(-1), ref.path("fd").asLong(-1), size);
        return scope.wrap(name, seg.asSlice(off, bytes), DType.F32, shape);
    }

    /**
     * A device tensor over the client's CUDA allocation: the handle is the one {@code cuIpcGetMemHandle} gave for
     * the allocation's base, {@code offset} the tensor's distance from it. The allocation is opened once per
     * session and stays the client's (PyTorch's); nothing is copied.
     */
    private static Tensor deviceView(Session s, TensorScope scope, JsonNode ref, String name) {
        JsonNode c = ref.path("cuda");
        String dtype = ref.path("dtype").asText("");
        if (!dtype.equals("float32")) {
            throw new Ss2dArgumentException(name, "float32 values (the engine's compute dtype)", "\"" + dtype + "\"", null);
        }
        long[] shape = shape(ref.path("shape"), name);
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), 4L);
        Backend cuda;
        try {
            cuda = Backends.get("cuda");
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new Unsupported(name + ": a CUDA tensor, but this engine has no CUDA backend (" + e.getMessage() + ")");
        }
        String engineDevice = cuda.capabilities().device();
        String wanted = "cuda:" + c.path("device").asInt(-1);
        if (!engineDevice.contains("(" + wanted + ",") && !engineDevice.contains("(" + wanted + ")")) {
            throw new Ss2dArgumentException(name, "a tensor on the engine's CUDA device, " + engineDevice
                    + " (ss2d.cuda.device)", wanted, null);
        }
        long off = c.path("offset").asLong(-1);
        long alloc = c.path("alloc_bytes").asLong(-1);
        if (off < 0 || off % 4 != 0 || alloc < 0 || off > alloc || bytes > alloc - off) {
            throw new Ss2dArgumentException(name, "a float32" + Shapes.format(shape) + " inside its CUDA allocation",
                    "offset " + off + " + " + bytes + " bytes in an allocation of " + alloc, null);
        }
        String key = c.path("handle").asText("");
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
