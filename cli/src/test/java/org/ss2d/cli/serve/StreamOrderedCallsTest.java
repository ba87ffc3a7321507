package org.ss2d.cli.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The engine's side of stream-ordered calls on CUDA tensors, without a GPU: a child JVM ({@link FakeGpuServeMain})
 * runs the server and a client against backend-cuda's fake device (an H100 that runs nothing and counts every driver
 * entry point) with the IPC calls of {@code src/test/native/fake_ipc.c} linked in. Per request, the driver calls
 * that order or wait: an ordered call is one wait for the client's event, its launch and one record of the engine's
 * event, and nothing that waits on the host; a synchronous one waits for the stream instead; a refused one still
 * records the event it owes; events and mappings go with the session. Skipped with a reason without a C compiler.
 */
class StreamOrderedCallsTest {
    private static Path libDir;

    @BeforeAll
    static void buildFakeDriver() throws IOException, InterruptedException {
        Path device = Path.of("..", "backend-cuda", "src", "test", "native", "fake_device.c").toAbsolutePath().normalize();
        Path ipc = Path.of("src", "test", "native", "fake_ipc.c").toAbsolutePath();
        Assumptions.assumeTrue(Files.exists(device) && Files.exists(ipc), "no " + device + " (not a source checkout)");
        libDir = Path.of("target", "fake-gpu").toAbsolutePath();
        Files.createDirectories(libDir);
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-O2", "-shared", "-fPIC", "-o", libDir.resolve("libcuda.so.1").toString(),
                    device.toString(), ipc.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("no C compiler (cc) to build the fake libcuda.so.1: " + e.getMessage());
            return;
        }
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "cc failed: " + log);
    }

    private record Run(Map<String, Map<String, Long>> calls, Map<String, String> replies, String out) {
        long n(String what, String entry) {
            Long v = calls.getOrDefault(what, Map.of()).get(entry);
            assertTrue(v != null, "no count of " + entry + " for " + what + ": " + out);
            return v;
        }
    }

    private static Run run() throws IOException, InterruptedException {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), FakeGpuServeMain.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        String old = System.getenv("LD_LIBRARY_PATH");   // the fake first, also on a GPU host
        pb.environment().put("LD_LIBRARY_PATH", libDir + (old == null || old.isEmpty() ? "" : ":" + old));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("(fake driver)") && out.contains("\ndone"), "the child did not run on the fake driver: " + out);
        Map<String, Map<String, Long>> calls = new HashMap<>();
        Map<String, String> replies = new HashMap<>();
        for (String line : out.lines().toList()) {
            String[] f = line.split(" ", 3);
            if (f[0].equals("calls")) {
                String[] g = f[2].split(" ");
                calls.computeIfAbsent(f[1], k -> new HashMap<>()).put(g[0], Long.parseLong(g[1]));
            } else if (f[0].equals("reply")) {
                replies.put(f[1], f.length > 2 ? f[2] : "");
            }
        }
        return new Run(calls, replies, out);
    }

    @Test
    void orderedCallsWaitAndRecordOnTheDeviceAndNeverOnTheHost() throws IOException, InterruptedException {
        Run r = run();
        String out = r.out();
        assertEquals("true 64", r.replies().get("events"), "cuda_events answers the engine's 64-byte handle: " + out);
        assertEquals(1, r.n("events", "cuIpcOpenEventHandle"), "the client's event opened: " + out);
        assertEquals(1, r.n("events", "cuEventCreate"), "the engine's event made: " + out);
        assertEquals(1, r.n("events", "cuIpcGetEventHandle"), out);
        assertEquals("ok", r.replies().get("first"), out);

        assertEquals("ok", r.replies().get("ordered"), out);
        assertEquals(1, r.n("ordered", "cuStreamWaitEvent"), "an ordered call waits for the client's event on the stream: " + out);
        assertEquals(1, r.n("ordered", "cuLaunchKernel"), out);
        assertEquals(1, r.n("ordered", "cuEventRecord"), "and records the engine's event after the op: " + out);
        for (String wait : List.of("cuStreamSynchronize", "cuEventSynchronize", "cuCtxSynchronize")) {
            assertEquals(0, r.n("ordered", wait), "an ordered call waits on the host (" + wait + "): " + out);
        }
        assertEquals(0, r.n("ordered", "cuIpcOpenMemHandle_v2"), "the allocations stay opened for the session: " + out);

        assertEquals("ok", r.replies().get("sync"), out);
        assertEquals(1, r.n("sync", "cuStreamSynchronize"), "a call without the flag waits for the stream: " + out);
        assertEquals(0, r.n("sync", "cuStreamWaitEvent") + r.n("sync", "cuEventRecord"), out);

        assertTrue(r.replies().get("error").startsWith("argument out: expected"), "refused by name: " + r.replies().get("error"));
        assertEquals(0, r.n("error", "cuLaunchKernel"), "validation before any launch: " + out);
        assertEquals(1, r.n("error", "cuStreamWaitEvent"), out);
        assertEquals(1, r.n("error", "cuEventRecord"), "a refused ordered call still records the event the client waits for: " + out);

        assertTrue(r.replies().get("second-events").startsWith("argument cuda_events: expected one request per connection"),
                r.replies().get("second-events"));
        assertEquals(0, r.n("second-events", "cuIpcOpenEventHandle") + r.n("second-events", "cuEventCreate"), out);

        assertTrue(out.contains("stats closed 0 0 0"), "the session's events and mappings are gone: " + out);
        assertEquals(2, r.n("closed", "cuEventDestroy_v2"), "both events destroyed with the session: " + out);
        assertEquals(2, r.n("closed", "cuIpcCloseMemHandle"), out);

        assertTrue(r.replies().get("no-events").startsWith(
                "argument ordered: expected a cuda_events request on this connection for cuda:0 first"), r.replies().get("no-events"));
        assertEquals(0, r.n("no-events", "cuStreamWaitEvent") + r.n("no-events", "cuLaunchKernel"), out);
    }
}
