package org.ss2d.cli.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The engine server without a Python client: who may bind where, the frame protocol, and requests that are
 * wrong (before hello, unknown op, a tensor reference outside its segment, a CUDA reference). The shared-memory
 * path itself is exercised end to end by the Python suite (python/tests), which owns memfds.
 */
class EngineServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    private Path dir;
    private EngineServer server;
    private Thread serving;

    @BeforeEach
    void start() throws IOException {
        dir = Files.createDirectory(tmp.resolve("private"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        server = EngineServer.bind(dir.resolve("engine.sock"), 0);
        serving = Thread.ofPlatform().daemon().start(() -> {
            try {
                server.serve();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        serving.join(5000);
        assertFalse(serving.isAlive(), "the server stops when closed");
    }

    @Test
    void aFolderOthersCanEnterIsRefused() throws IOException {
        Path open = Files.createDirectory(tmp.resolve("open"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> EngineServer.bind(open.resolve("s.sock"), 0));
        assertTrue(e.getMessage().startsWith("--socket: expected a folder owned by"), e.getMessage());
        assertTrue(e.getMessage().contains("rwxr-xr-x"), e.getMessage());
    }

    @Test
    void aSecondEngineOnTheSameSocketIsRefused() {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, () -> EngineServer.bind(dir.resolve("engine.sock"), 0));
        assertTrue(e.getMessage().contains("already listens"), e.getMessage());
    }

    @Test
    void anIdleEngineExitsAndRemovesItsSocket() throws Exception {
        Path other = Files.createDirectory(tmp.resolve("idle"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path sock = other.resolve("engine.sock");
        try (EngineServer idle = EngineServer.bind(sock, 300)) {
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                try {
                    idle.serve();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            t.join(10_000);
            assertFalse(t.isAlive(), "serve() returns after 300 ms without a client");
        }
        assertFalse(Files.exists(sock), "the socket file goes with the engine");
    }

    @Test
    void theSocketIsTheOwnersOnly() throws IOException {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("engine.sock"))));
    }

    @Test
    void requestsAreAnsweredAndErrorsAreOneLineWithTheirKind() throws IOException {
        try (SocketChannel c = connect()) {
            JsonNode before = ask(c, "{\"op\":\"cross_scan\",\"inputs\":{}}");
            assertEquals("argument", before.path("kind").asText(), before.toString());
            assertTrue(before.path("message").asText().contains("hello first"), before.toString());

            JsonNode hello = ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"t\"}");
            assertTrue(hello.path("ok").asBoolean() && hello.path("new_session").asBoolean(), hello.toString());
            assertEquals(ProcessHandle.current().pid(), hello.path("pid").asLong());

            JsonNode unknown = ask(c, "{\"op\":\"frobnicate\"}");
            assertEquals("argument", unknown.path("kind").asText());
            assertTrue(unknown.path("message").asText().startsWith("op: expected one of hello"), unknown.toString());

            JsonNode outside = ask(c, "{\"op\":\"cross_scan\",\"inputs\":{\"x\":{\"seg\":1,\"fd\":0,\"size\":64,\"off\":32,"
                    + "\"shape\":[1,1,4,4],\"dtype\":\"float32\"}},\"outputs\":{}}");
            assertEquals("argument", outside.path("kind").asText());
            assertTrue(outside.path("message").asText().startsWith("x: expected a float32(1, 1, 4, 4) inside its segment"), outside.toString());

            JsonNode f16 = ask(c, "{\"op\":\"cross_scan\",\"inputs\":{\"x\":{\"seg\":1,\"fd\":0,\"size\":64,\"off\":0,"
                    + "\"shape\":[1],\"dtype\":\"float16\"}},\"outputs\":{}}");
            assertTrue(f16.path("message").asText().startsWith("x: expected float32 values"), f16.toString());

            JsonNode cuda = ask(c, "{\"op\":\"cross_scan\",\"inputs\":{\"x\":{\"cuda\":{\"handle\":\"AA==\",\"device\":99},"
                    + "\"shape\":[1,1,2,2],\"dtype\":\"float32\"}},\"outputs\":{}}");
            boolean gpu = org.ss2d.Backends.list().stream().anyMatch(e -> e.name().equals("cuda") && e.available());
            if (gpu) { // a device the engine does not run on is refused by name, before any handle is opened
                assertEquals("argument", cuda.path("kind").asText(), cuda.toString());
                assertTrue(cuda.path("message").asText().startsWith("x: expected a tensor on the engine's CUDA device"), cuda.toString());
            } else {   // no CUDA backend: the request cannot be served here
                assertEquals("unsupported", cuda.path("kind").asText(), cuda.toString());
                assertTrue(cuda.path("message").asText().startsWith("x: a CUDA tensor, but this engine has no CUDA backend"), cuda.toString());
            }

            JsonNode stats = ask(c, "{\"op\":\"stats\"}");
            assertEquals(1, stats.path("sessions").asLong());
            assertEquals(0, stats.path("segments").asLong(), "a reference refused before mapping maps nothing");
        }
        waitForSessions(0);
    }

    @Test
    void anOversizedFrameClosesOnlyThatConnection() throws IOException {
        try (SocketChannel bad = connect()) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MAX_VALUE).flip();
            bad.write(b);
            assertEquals(-1, bad.read(ByteBuffer.allocate(1)), "the server hangs up");
        }
        try (SocketChannel good = connect()) {
            assertTrue(ask(good, "{\"op\":\"ping\"}").path("ok").asBoolean());
        }
    }

    @Test
    void binaryRequestsAreAnsweredInBinaryAndTheirErrorsInJson() throws IOException {
        try (SocketChannel c = connect()) {
            ByteBuffer before = askRaw(c, binary(3, 1, "", tensor(8, 1, 1, 64, 0, 1, 1, 4, 4)));
            assertEquals('{', before.get(0), "an error is a JSON reply");
            assertTrue(json(before).path("message").asText().contains("hello first"), json(before).toString());
            ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"b\"}");

            ByteBuffer pong = askRaw(c, binary(1, 0, ""));
            assertEquals(Frames.BINARY, pong.get(0));
            assertEquals(0, pong.get(1), "no backend for a ping");
            assertEquals(2 + 16, pong.remaining(), "marker, empty name, two times");

            JsonNode outside = json(askRaw(c, binary(3, 1, "cpu", tensor(8, 1, 0, 64, 32, 1, 1, 4, 4))));
            assertEquals("argument", outside.path("kind").asText(), outside.toString());
            assertTrue(outside.path("message").asText().startsWith("x: expected a float32(1, 1, 4, 4) inside its segment"), outside.toString());

            JsonNode op = json(askRaw(c, binary(9, 0, "")));
            assertTrue(op.path("message").asText().startsWith("frame: expected an op code 1..5, found 9"), op.toString());
            byte[] cut = binary(3, 1, "", tensor(8, 1, 0, 64, 0, 1, 1, 4, 4));
            JsonNode shortFrame = json(askRaw(c, java.util.Arrays.copyOf(cut, cut.length - 3)));
            assertTrue(shortFrame.path("message").asText().startsWith("frame: expected a complete binary request"), shortFrame.toString());
            JsonNode slot = json(askRaw(c, binary(3, 1, "", tensor(99, 1, 0, 64, 0, 1))));
            assertTrue(slot.path("message").asText().startsWith("frame: expected a tensor slot"), slot.toString());

            JsonNode cuda = json(askRaw(c, binary(3, 2, "", cudaTensor(8, 99, 4096, 0, 1, 1, 2, 2), tensor(10, 1, 0, 64, 0, 1, 4, 1, 4))));
            if (org.ss2d.Backends.list().stream().anyMatch(e -> e.name().equals("cuda") && e.available())) {
                assertTrue(cuda.path("message").asText().startsWith("x: expected a tensor on the engine's CUDA device"), cuda.toString());
            } else {
                assertEquals("unsupported", cuda.path("kind").asText(), cuda.toString());
                assertTrue(cuda.path("message").asText().startsWith("x: a CUDA tensor, but this engine has no CUDA backend"), cuda.toString());
            }

            // two requests in one write: both answered, in order (the second waits in the receive buffer)
            byte[] ping = frame(binary(1, 0, ""));
            byte[] stats = frame("{\"op\":\"stats\"}".getBytes(StandardCharsets.UTF_8));
            ByteBuffer both = ByteBuffer.allocate(ping.length + stats.length).put(ping).put(stats).flip();
            while (both.hasRemaining()) c.write(both);
            assertEquals(Frames.BINARY, readReply(c).get(0));
            assertEquals(0, json(readReply(c)).path("segments").asLong(), "nothing was mapped by the refused requests");
        }
        waitForSessions(0);
    }

    /**
     * Stream-ordered CUDA calls: flag 8 of a binary frame, followed by the call's u32 ticket (and {@code "ordered": true,
     * "ticket": k} in JSON) marks them; the {@code cuda_flags} request that sets up a connection's ordering page is
     * refused by name without a CUDA backend (here), and for a bad descriptor, size or device on a GPU host, before
     * anything is mapped.
     */
    @Test
    void streamOrderedCallsCarryTheirTicketAndTheirFlagsAreRefusedByName() throws IOException {
        byte[] plain = binary(3, 1, "", tensor(8, 1, 0, 64, 0, 1, 1, 4, 4));
        ByteBuffer ordered = ByteBuffer.allocate(plain.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        ordered.put(plain, 0, 12).putInt(0xFFFFFFFE).put(plain, 12, plain.length - 12).flip();
        ordered.put(2, (byte) (8 | 1));
        Request q = Frames.request(ordered);
        assertTrue(q.ordered && q.deltaSoftplus && !q.returnLastState, "flags 8 | 1");
        assertEquals(0xFFFFFFFE, q.ticket, "the ticket after the handle, all 32 bits");
        assertEquals(1, q.inputs.size(), "the tensor after the ticket");
        assertFalse(Frames.request(ByteBuffer.wrap(plain).order(ByteOrder.LITTLE_ENDIAN)).ordered, "not ordered without the flag");
        Request j = Request.fromJson("cross_scan", JSON.readTree("{\"ordered\":true,\"ticket\":4294967295}"));
        assertTrue(j.ordered && j.ticket == -1, "JSON's ticket, as an unsigned 32-bit number");
        try (SocketChannel c = connect()) {
            JsonNode before = ask(c, "{\"op\":\"cuda_flags\",\"device\":0,\"fd\":0,\"size\":4096}");
            assertTrue(before.path("message").asText().contains("hello first"), before.toString());
            JsonNode hello = ask(c, "{\"op\":\"hello\",\"pid\":" + ProcessHandle.current().pid() + ",\"token\":\"e\"}");
            assertEquals(3, hello.path("protocol").asInt(), "protocol 3: stream order through host flags (older clients and engines fall back)");
            boolean gpu = org.ss2d.Backends.list().stream().anyMatch(e -> e.name().equals("cuda") && e.available());
            JsonNode flags = ask(c, "{\"op\":\"cuda_flags\",\"device\":0,\"fd\":-1,\"size\":4096}");
            if (gpu) {
                assertEquals("argument", flags.path("kind").asText(), flags.toString());
                assertTrue(flags.path("message").asText().startsWith("fd: expected the client's descriptor"), flags.toString());
                JsonNode size = ask(c, "{\"op\":\"cuda_flags\",\"device\":0,\"fd\":0,\"size\":16}");
                assertTrue(size.path("message").asText().startsWith("size: expected 128..1048576 bytes"), size.toString());
                JsonNode device = ask(c, "{\"op\":\"cuda_flags\",\"device\":99,\"fd\":0,\"size\":4096}");
                assertTrue(device.path("message").asText().startsWith("cuda_flags: expected a tensor on the engine's CUDA device"), device.toString());
            } else {
                assertEquals("unsupported", flags.path("kind").asText(), flags.toString());
                assertTrue(flags.path("message").asText().startsWith("cuda_flags: a CUDA tensor, but this engine has no CUDA backend"), flags.toString());
            }
            assertEquals(0, ask(c, "{\"op\":\"stats\"}").path("cuda_flags").asLong(), "nothing was registered");
        }
        waitForSessions(0);
    }

    /** A binary request: op, flags, backend name, then tensors made by {@link #tensor}. */
    private static byte[] binary(int op, int count, String backend, byte[]... tensors) {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        b.put(Frames.BINARY).put((byte) op).put((byte) 0).put((byte) count).putLong(0).put((byte) backend.length())
                .put(backend.getBytes(StandardCharsets.US_ASCII));
        for (byte[] t : tensors) b.put(t);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    private static byte[] tensor(int slot, int seg, int fd, long size, long off, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(26 + 8 * shape.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) slot).put((byte) shape.length).putInt(seg).putInt(fd).putLong(size).putLong(off);
        for (long d : shape) b.putLong(d);
        return b.array();
    }

    private static byte[] cudaTensor(int slot, int device, long alloc, long off, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(2 + 4 + 16 + Frames.IPC_HANDLE + 8 * shape.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) slot).put((byte) (shape.length | 0x80)).putInt(device).putLong(alloc).putLong(off).put(new byte[Frames.IPC_HANDLE]);
        for (long d : shape) b.putLong(d);
        return b.array();
    }

    private static byte[] frame(byte[] body) {
        return ByteBuffer.allocate(4 + body.length).order(ByteOrder.LITTLE_ENDIAN).putInt(body.length).put(body).array();
    }

    private static ByteBuffer askRaw(SocketChannel c, byte[] body) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(frame(body));
        while (out.hasRemaining()) c.write(out);
        return readReply(c);
    }

    private static ByteBuffer readReply(SocketChannel c) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        while (head.hasRemaining()) if (c.read(head) < 0) throw new IOException("closed");
        ByteBuffer reply = ByteBuffer.allocate(head.flip().getInt()).order(ByteOrder.LITTLE_ENDIAN);
        while (reply.hasRemaining()) if (c.read(reply) < 0) throw new IOException("closed");
        return reply.flip();
    }

    private static JsonNode json(ByteBuffer reply) throws IOException {
        return JSON.readTree(reply.array(), reply.position(), reply.remaining());
    }

    private void waitForSessions(long n) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.stats().get("sessions") != n) {
            assertTrue(System.nanoTime() < deadline, "sessions: " + server.stats());
            Thread.onSpinWait();
        }
    }

    private SocketChannel connect() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(dir.resolve("engine.sock")));
        return c;
    }

    private static JsonNode ask(SocketChannel c, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(4 + body.length).order(ByteOrder.LITTLE_ENDIAN).putInt(body.length).put(body).flip();
        while (out.hasRemaining()) c.write(out);
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        while (head.hasRemaining()) if (c.read(head) < 0) throw new IOException("closed");
        ByteBuffer reply = ByteBuffer.allocate(head.flip().getInt());
        while (reply.hasRemaining()) if (c.read(reply) < 0) throw new IOException("closed");
        return JSON.readTree(reply.array());
    }
}
