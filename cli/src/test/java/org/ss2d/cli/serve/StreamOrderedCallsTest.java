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
 * entry point) with the IPC calls and stream memory operations of {@code src/test/native/fake_ipc.c} linked in. Per
 * request, the driver calls that order or wait: an ordered call is one wait on the ready word, its launch and one
 * write of the done word, nothing that waits on the host and no registration; a synchronous one waits for the stream
 * instead; a refused one still writes the done word it owes and says so; the deadline releases a wait the client
 * never reaches and refuses the connection's next call; a closed connection releases its waits from the host, then
 * waits for the stream and unregisters. Skipped with a reason without a C compiler.
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

    private record Run(Map<String, Map<String, Long>> calls, Map<String, String> replies, Map<String, String> words, String out) {
        String word(String what, String name) {
            String v = words.get(what + " " + name);
            assertTrue(v != null, "no word " + name + " for " + what + ": " + out);
            return v;
        }

        long n(String what, String entry) {
            Long v = calls.getOrDefault(what, Map.of()).get(entry);
            assertTrue(v != null, "no count of " + entry + " for " + what + ": " + out);
            return v;
        }
    }

    private static Run run;

    /** The child's run, shared by the tests (one JVM start, and the deadline's wait, once). */
    private static synchronized Run run() throws IOException, InterruptedException {
        if (run == null) run = runChild();
        return run;
    }

    private static Run runChild() throws IOException, InterruptedException {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-Dss2d.serve.order-deadline=1", "-cp",
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
        Map<String, String> words = new HashMap<>();
        for (String line : out.lines().toList()) {
            String[] f = line.split(" ", 3);
            if (f[0].equals("calls")) {
                String[] g = f[2].split(" ");
                calls.computeIfAbsent(f[1], k -> new HashMap<>()).put(g[0], Long.parseLong(g[1]));
            } else if (f[0].equals("reply")) {
                replies.put(f[1], f.length > 2 ? f[2] : "");
            } else if (f[0].equals("owed")) {
                replies.put(f[1] + " done", f[2]);
            } else if (f[0].equals("word")) {
                String[] g = f[2].split(" ");
                words.put(f[1] + " " + g[0], g[1]);
            }
        }
        return new Run(calls, replies, words, out);
    }

    private static final List<String> HOST_WAITS = List.of("cuStreamSynchronize", "cuEventSynchronize", "cuCtxSynchronize");

    @Test
    void orderedCallsWaitAndWriteOnTheDeviceAndNeverOnTheHost() throws IOException, InterruptedException {
        Run r = run();
        String out = r.out();
        assertEquals("ok ", r.replies().get("flags"), "cuda_flags maps and registers the page: " + out);
        assertEquals(1, r.n("flags", "cuMemHostRegister_v2"), out);
        assertEquals(1, r.n("flags", "cuMemHostGetDevicePointer_v2"), out);
        assertEquals("ok", r.replies().get("first"), out);

        assertEquals("ok", r.replies().get("ordered"), out);
        assertEquals(1, r.n("ordered", "cuStreamWaitValue32_v2"), "an ordered call waits for the ready word on the stream: " + out);
        assertEquals(1, r.n("ordered", "cuLaunchKernel"), out);
        assertEquals(1, r.n("ordered", "cuStreamWriteValue32_v2"), "and writes the done word after the op: " + out);
        assertEquals("2", r.word("ordered", "done"), "the done word carries the call's ticket: " + out);
        for (String wait : HOST_WAITS) {
            assertEquals(0, r.n("ordered", wait), "an ordered call waits on the host (" + wait + "): " + out);
        }
        assertEquals(0, r.n("ordered", "cuMemHostRegister_v2") + r.n("ordered", "cuMemHostGetDevicePointer_v2")
                + r.n("ordered", "cuMemHostUnregister"), "no registration per call: " + out);
        assertEquals(0, r.n("ordered", "cuStreamWaitEvent") + r.n("ordered", "cuEventRecord"), "no events any more: " + out);
        assertEquals(0, r.n("ordered", "cuIpcOpenMemHandle_v2"), "the allocations stay opened for the session: " + out);

        assertEquals("ok", r.replies().get("sync"), out);
        assertEquals(1, r.n("sync", "cuStreamSynchronize"), "a call without the flag waits for the stream: " + out);
        assertEquals(0, r.n("sync", "cuStreamWaitValue32_v2") + r.n("sync", "cuStreamWriteValue32_v2"), out);

        assertTrue(r.replies().get("error").startsWith("argument out: expected"), "refused by name: " + r.replies().get("error"));
        assertEquals(0, r.n("error", "cuLaunchKernel"), "validation before any launch: " + out);
        assertEquals(1, r.n("error", "cuStreamWaitValue32_v2"), out);
        assertEquals(1, r.n("error", "cuStreamWriteValue32_v2"), "a refused ordered call still writes the done word: " + out);
        assertEquals("true", r.replies().get("error done"), "and its reply says so (the client waits for it): " + out);
        assertEquals("3", r.word("error", "done"), out);

        assertTrue(r.replies().get("second-flags").startsWith("argument cuda_flags: expected one request per connection"),
                r.replies().get("second-flags"));
        assertEquals(0, r.n("second-flags", "cuMemHostRegister_v2"), out);
    }

    @Test
    void theDeadlineReleasesAWaitTheClientNeverReachesAndRefusesTheNextCall() throws IOException, InterruptedException {
        Run r = run();
        String out = r.out();
        assertEquals("ok", r.replies().get("late"), "the call is queued and answered at once: " + out);
        assertEquals("4", r.word("late", "ready"), "past the deadline the engine wrote the ticket itself: " + out);
        assertTrue(out.contains("late-released-after deadline"), "not before the deadline: " + out);
        assertTrue(r.replies().get("after-deadline").startsWith("broken stream order broken: the engine's CUDA stream waited more than 1.0 s"),
                "the next call is refused with the reason: " + r.replies().get("after-deadline"));
        assertEquals("false", r.replies().get("after-deadline done"), "nothing was queued for it: " + out);
        assertEquals(0, r.n("after-deadline", "cuStreamWaitValue32_v2") + r.n("after-deadline", "cuLaunchKernel"), out);
        assertTrue(out.contains("stats closed 0 0 0"), "the session's flags and mappings are gone: " + out);
        assertEquals(1, r.n("closed", "cuMemHostUnregister"), out);
        assertEquals(2, r.n("closed", "cuIpcCloseMemHandle"), out);
    }

    @Test
    void aClosedConnectionReleasesItsWaitsFromTheHostThenWaitsForTheStream() throws IOException, InterruptedException {
        Run r = run();
        String out = r.out();
        assertTrue(r.replies().get("no-flags").startsWith(
                "argument ordered: expected a cuda_flags request on this connection for cuda:0 first"), r.replies().get("no-flags"));
        assertEquals("ok", r.replies().get("queued"), out);
        assertEquals("0", r.word("queued", "ready"), "the client never wrote its ticket: " + out);
        assertTrue(out.contains("stats killed 0 0"), out);
        assertEquals("1", r.word("killed", "ready"), "the engine wrote the ticket it waited for from the host: " + out);
        assertEquals(1, r.n("killed", "cuMemHostUnregister"), out);
        assertTrue(r.n("killed", "cuStreamSynchronize") >= 1, "the stream is waited for before unregistering: " + out);
    }
}
