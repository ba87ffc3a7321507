package org.ss2d.cli.serve;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;

/**
 * Run by {@link StreamOrderedCallsTest} in a child JVM whose {@code libcuda.so.1} is the fake device plus the fake
 * IPC calls: an engine server in this process and a client speaking its protocol, as the Python package does. Per
 * request it prints {@code calls CASE ENTRY N} for the driver entry points that order or wait, and {@code reply CASE
 * ...} for the reply's kind and message.
 */
public final class FakeGpuServeMain {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> ENTRIES = List.of("cuStreamWaitEvent", "cuEventRecord", "cuLaunchKernel",
            "cuStreamSynchronize", "cuEventSynchronize", "cuCtxSynchronize", "cuEventCreate", "cuEventDestroy_v2",
            "cuIpcOpenEventHandle", "cuIpcGetEventHandle", "cuIpcOpenMemHandle_v2", "cuIpcCloseMemHandle");

    private FakeGpuServeMain() {}

    private static final class Fake {
        static final MethodHandle CU, IPC, RESET;

        static {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            Linker l = Linker.nativeLinker();
            CU = l.downcallHandle(lib.findOrThrow("fake_cu_calls"), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
            IPC = l.downcallHandle(lib.findOrThrow("fake_ipc_calls"), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
            RESET = l.downcallHandle(lib.findOrThrow("fake_cu_reset"), FunctionDescriptor.ofVoid());
        }
    }

    /** Counts of the entry points since the last {@link #mark}: the device's are reset, the IPC ones subtracted. */
    private static final long[] ipcBase = new long[ENTRIES.size()];

    private static long calls(String entry) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            long n = (long) Fake.CU.invokeExact(a.allocateFrom(entry));
            return n >= 0 ? n : (long) Fake.IPC.invokeExact(a.allocateFrom(entry));
        }
    }

    private static void mark() throws Throwable {
        Fake.RESET.invokeExact();
        for (int i = 0; i < ENTRIES.size(); i++) ipcBase[i] = ENTRIES.get(i).startsWith("cuIpc") ? calls(ENTRIES.get(i)) : 0;
    }

    private static void print(String what) throws Throwable {
        for (int i = 0; i < ENTRIES.size(); i++) {
            System.out.println("calls " + what + " " + ENTRIES.get(i) + " " + (calls(ENTRIES.get(i)) - ipcBase[i]));
        }
    }

    public static void main(String[] args) throws Throwable {
        Path dir = Files.createTempDirectory("ss2d-fake-gpu", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        EngineServer server = EngineServer.bind(dir.resolve("engine.sock"), 0);
        Thread serving = Thread.ofPlatform().daemon().start(() -> {
            try {
                server.serve();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        try (SocketChannel c = connect(dir)) {
            ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"f\"}");
            System.out.println("device " + org.ss2d.Backends.get("cuda").capabilities().device());
            String handle = Base64.getEncoder().encodeToString(new byte[64]);

            mark();
            JsonNode ev = ask(c, "{\"op\":\"cuda_events\",\"device\":0,\"handle\":\"" + handle + "\"}");
            System.out.println("reply events " + ev.path("ok").asBoolean() + " " + Base64.getDecoder().decode(ev.path("handle").asText("")).length);
            print("events");

            byte[] x = cuda(8, 1, 4096, 0, 1, 1, 2, 2);
            byte[] out = cuda(10, 2, 4096, 0, 1, 4, 1, 4);
            // the first call opens the two allocations; then the steady state is counted
            reply("first", askRaw(c, binary(3, 8, x, out)));
            mark();
            reply("ordered", askRaw(c, binary(3, 8, x, out)));
            print("ordered");
            mark();
            reply("sync", askRaw(c, binary(3, 0, x, out)));
            print("sync");
            mark();
            reply("error", askRaw(c, binary(3, 8, x, cuda(10, 2, 4096, 0, 1, 4, 1, 3))));
            print("error");
            mark();
            reply("second-events", ask(c, "{\"op\":\"cuda_events\",\"device\":0,\"handle\":\"" + handle + "\"}"));
            print("second-events");
        }
        // the first connection closed: its session closes (no other connection), its events and mappings go
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (server.stats().get("sessions") != 0 && System.nanoTime() < deadline) Thread.sleep(10);
        System.out.println("stats closed " + server.stats().get("sessions") + " " + server.stats().get("cuda_events")
                + " " + server.stats().get("cuda_ipc"));
        print("closed");
        try (SocketChannel c = connect(dir)) {
            ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"g\"}");
            mark();
            reply("no-events", askRaw(c, binary(3, 8, cuda(8, 1, 4096, 0, 1, 1, 2, 2), cuda(10, 2, 4096, 0, 1, 4, 1, 4))));
            print("no-events");
        }
        server.close();
        serving.join(5000);
        System.out.println("done");
    }

    private static void reply(String what, ByteBuffer r) throws IOException {
        if (r.get(0) == Frames.BINARY) {
            System.out.println("reply " + what + " ok");
        } else {
            reply(what, JSON.readTree(r.array(), r.position(), r.remaining()));
        }
    }

    private static void reply(String what, JsonNode n) {
        System.out.println("reply " + what + " " + n.path("kind").asText("ok") + " " + n.path("message").asText(""));
    }

    private static byte[] binary(int op, int flags, byte[]... tensors) {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.put(Frames.BINARY).put((byte) op).put((byte) flags).put((byte) tensors.length).putLong(0).put((byte) 0);
        for (byte[] t : tensors) b.put(t);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    /** A CUDA reference; {@code id} is the handle's first byte (one allocation per id). */
    private static byte[] cuda(int slot, int id, long alloc, long off, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(2 + 4 + 16 + Frames.IPC_HANDLE + 8 * shape.length).order(ByteOrder.LITTLE_ENDIAN);
        byte[] handle = new byte[Frames.IPC_HANDLE];
        handle[0] = (byte) id;
        b.put((byte) slot).put((byte) (shape.length | 0x80)).putInt(0).putLong(alloc).putLong(off).put(handle);
        for (long d : shape) b.putLong(d);
        return b.array();
    }

    private static SocketChannel connect(Path dir) throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(dir.resolve("engine.sock")));
        return c;
    }

    private static ByteBuffer askRaw(SocketChannel c, byte[] body) throws IOException {
        ByteBuffer o = ByteBuffer.allocate(4 + body.length).order(ByteOrder.LITTLE_ENDIAN).putInt(body.length).put(body).flip();
        while (o.hasRemaining()) c.write(o);
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        while (head.hasRemaining()) if (c.read(head) < 0) throw new IOException("closed");
        ByteBuffer reply = ByteBuffer.allocate(head.flip().getInt()).order(ByteOrder.LITTLE_ENDIAN);
        while (reply.hasRemaining()) if (c.read(reply) < 0) throw new IOException("closed");
        return reply.flip();
    }

    private static JsonNode ask(SocketChannel c, String json) throws IOException {
        ByteBuffer r = askRaw(c, json.getBytes(StandardCharsets.UTF_8));
        return JSON.readTree(r.array(), r.position(), r.remaining());
    }
}
