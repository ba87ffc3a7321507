package org.ss2d.cli.serve;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * Run by {@link StreamOrderedCallsTest} in a child JVM whose {@code libcuda.so.1} is the fake device plus the fake
 * IPC calls and stream memory operations: an engine server in this process and a client speaking its protocol, as the
 * Python package does, with a file of its own as the ordering page (its ready word written by hand where the client's
 * stream would write it). Per request it prints {@code calls CASE ENTRY N} for the driver entry points that order or
 * wait, {@code reply CASE ...} for the reply's kind and message, and {@code word CASE NAME VALUE} for the page's words.
 */
public final class FakeGpuServeMain {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> ENTRIES = List.of("cuStreamWaitValue32_v2", "cuStreamWriteValue32_v2", "cuLaunchKernel",
            "cuStreamSynchronize", "cuEventSynchronize", "cuCtxSynchronize", "cuStreamWaitEvent", "cuEventRecord",
            "cuMemHostRegister_v2", "cuMemHostGetDevicePointer_v2", "cuMemHostUnregister", "cuIpcOpenMemHandle_v2",
            "cuIpcCloseMemHandle");

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

    /** Counts of the entry points since the last {@link #mark}: the device's are reset, the fake IPC file's subtracted. */
    private static final long[] ipcBase = new long[ENTRIES.size()];

    private static long calls(String entry) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            long n = (long) Fake.CU.invokeExact(a.allocateFrom(entry));
            return n >= 0 ? n : (long) Fake.IPC.invokeExact(a.allocateFrom(entry));
        }
    }

    private static boolean device(String entry) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            return (long) Fake.CU.invokeExact(a.allocateFrom(entry)) >= 0;
        }
    }

    private static void mark() throws Throwable {
        Fake.RESET.invokeExact();
        for (int i = 0; i < ENTRIES.size(); i++) ipcBase[i] = device(ENTRIES.get(i)) ? 0 : calls(ENTRIES.get(i));
    }

    private static void print(String what) throws Throwable {
        for (int i = 0; i < ENTRIES.size(); i++) {
            System.out.println("calls " + what + " " + ENTRIES.get(i) + " " + (calls(ENTRIES.get(i)) - ipcBase[i]));
        }
    }

    /** A page of ordering words: a file of this process, reached by the engine through /proc/PID/fd/N. */
    private record Page(RandomAccessFile file, int fd, MemorySegment words) {
        static Page create(Arena arena) throws IOException {
            Path f = Files.createTempFile("ss2d-flags", ".page");
            f.toFile().deleteOnExit();
            RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw");
            raf.setLength(4096);
            int fd = -1;
            try (var fds = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : fds.toList()) {
                    try {
                        if (Files.readSymbolicLink(p).equals(f)) fd = Integer.parseInt(p.getFileName().toString());
                    } catch (IOException e) {
                        // a descriptor closed meanwhile
                    }
                }
            }
            if (fd < 0) throw new IOException("no descriptor of " + f);
            return new Page(raf, fd, raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, 4096, arena));
        }

        void ready(int k) {
            words.set(JAVA_INT, OrderFlags.READY, k);
        }

        void print(String what) {
            System.out.println("word " + what + " ready " + words.get(JAVA_INT, OrderFlags.READY));
            System.out.println("word " + what + " done " + words.get(JAVA_INT, OrderFlags.DONE));
        }

        String request() {
            return "{\"op\":\"cuda_flags\",\"device\":0,\"fd\":" + fd + ",\"size\":4096}";
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
        Arena arena = Arena.ofShared();
        long deadlineMs = (long) (EngineServer.orderDeadlineNanos() / 1_000_000);
        byte[] x = cuda(8, 1, 4096, 0, 1, 1, 2, 2);
        byte[] out = cuda(10, 2, 4096, 0, 1, 4, 1, 4);
        try (SocketChannel c = connect(dir)) {
            ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"f\"}");
            System.out.println("device " + org.ss2d.Backends.get("cuda").capabilities().device());
            Page page = Page.create(arena);

            mark();
            reply("flags", ask(c, page.request()));
            print("flags");

            // the first call opens the two allocations; then the steady state is counted
            page.ready(1);
            reply("first", askRaw(c, binary(3, 8, 1, x, out)));
            mark();
            page.ready(2);
            reply("ordered", askRaw(c, binary(3, 8, 2, x, out)));
            print("ordered");
            page.print("ordered");
            mark();
            reply("sync", askRaw(c, binary(3, 0, 0, x, out)));
            print("sync");
            mark();
            page.ready(3);
            reply("error", askRaw(c, binary(3, 8, 3, x, cuda(10, 2, 4096, 0, 1, 4, 1, 3))));
            print("error");
            page.print("error");
            mark();
            reply("second-flags", ask(c, page.request()));
            print("second-flags");

            // the deadline: the client's stream never reaches ticket 4; the engine releases its own wait
            mark();
            long sent = System.nanoTime();
            reply("late", askRaw(c, binary(3, 8, 4, x, out)));
            // the deadline, then the watchdog's next look (an eighth of it); polled, up to 10 s on a loaded machine
            while (page.words.get(JAVA_INT, OrderFlags.READY) != 4 && System.nanoTime() - sent < 10_000_000_000L) Thread.sleep(10);
            long waitedMs = (System.nanoTime() - sent) / 1_000_000;
            System.out.println("late-released-after " + (waitedMs >= deadlineMs ? "deadline" : waitedMs + " ms"));
            page.print("late");
            page.ready(5);
            mark();
            reply("after-deadline", askRaw(c, binary(3, 8, 5, x, out)));
            print("after-deadline");
        }
        awaitNoSession(server);
        System.out.println("stats closed " + server.stats().get("sessions") + " " + server.stats().get("cuda_flags")
                + " " + server.stats().get("cuda_ipc"));
        print("closed");

        // a client killed with work queued ahead of its ticket: the engine's stream waits for a word nobody will write
        Page page = Page.create(arena);
        try (SocketChannel c = connect(dir)) {
            ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"g\"}");
            reply("no-flags", askRaw(c, binary(3, 8, 1, x, out)));
            reply("flags2", ask(c, page.request()));
            mark();
            reply("queued", askRaw(c, binary(3, 8, 1, x, out)));
            page.print("queued");
        }
        awaitNoSession(server);
        System.out.println("stats killed " + server.stats().get("sessions") + " " + server.stats().get("cuda_flags"));
        print("killed");
        page.print("killed");
        server.close();
        serving.join(5000);
        System.out.println("done");
    }

    /** Waits until the closed connection's session is gone (the connection's flags are closed before). */
    private static void awaitNoSession(EngineServer server) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (server.stats().get("sessions") != 0 && System.nanoTime() < deadline) Thread.sleep(10);
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
        System.out.println("owed " + what + " " + n.path("done").asBoolean(false));
    }

    private static byte[] binary(int op, int flags, int ticket, byte[]... tensors) {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.put(Frames.BINARY).put((byte) op).put((byte) flags).put((byte) tensors.length).putLong(0);
        if ((flags & 8) != 0) b.putInt(ticket);
        b.put((byte) 0);
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
