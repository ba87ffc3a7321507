package org.ss2d.cuda;

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
 * The host path of a selective scan on device tensors, guarded by counting driver calls (never by timing): a child
 * JVM runs {@link HostPathMain} against the fake driver of {@code src/test/native/fake_device.c}, an H100 that runs
 * nothing and counts every entry point. After the first calls of a shape, each scan through the facade is one
 * kernel launch (16-bit inputs too: the 16-bit kernels read them) and nothing else that costs: no allocation, no free, no wait, no
 * {@code cuMemGetInfo} per call, no function or attribute lookup. Runs without a GPU; skipped with a reason when no
 * C compiler is installed.
 */
class CudaHostPathTest {
    private static Path libDir;

    @BeforeAll
    static void buildFakeDriver() throws IOException, InterruptedException {
        Path source = Path.of("src/test/native/fake_device.c").toAbsolutePath();
        Assumptions.assumeTrue(Files.exists(source), "no " + source + " (a bundle without the native test sources)");
        libDir = Path.of("target", "fake-device").toAbsolutePath();
        Files.createDirectories(libDir);
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-O2", "-shared", "-fPIC", "-o", libDir.resolve("libcuda.so.1").toString(),
                    source.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("no C compiler (cc) to build the fake libcuda.so.1: " + e.getMessage());
            return;
        }
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "cc failed: " + log);
    }

    /** {@code case -> entry -> calls} from {@code calls CASE ENTRY N} lines. */
    private static Map<String, Map<String, Long>> counts() throws IOException, InterruptedException {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), HostPathMain.class.getName(),
                "count");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // the fake first on the loader path, also on a GPU host whose real driver is on it
        String old = System.getenv("LD_LIBRARY_PATH");
        pb.environment().put("LD_LIBRARY_PATH", libDir + (old == null || old.isEmpty() ? "" : ":" + old));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("(fake driver)"), "the child did not run on the fake driver: " + out);
        Map<String, Map<String, Long>> m = new HashMap<>();
        for (String line : out.lines().toList()) {
            String[] f = line.split(" ");
            if (f.length == 4 && f[0].equals("calls")) {
                m.computeIfAbsent(f[1], k -> new HashMap<>()).put(f[2], Long.parseLong(f[3]));
            }
        }
        assertEquals(HostPathMain.CASES.size(), m.size(), "a count per case: " + out);
        return m;
    }

    @Test
    void aScanOnDeviceTensorsIsOneLaunchAndNothingThatWaitsOrAllocates() throws IOException, InterruptedException {
        int n = HostPathMain.COUNTED;
        for (var e : counts().entrySet()) {
            String what = e.getKey() + " (" + n + " scans on device tensors through the facade, after the first two)";
            Map<String, Long> c = e.getValue();
            // S4-bf16 too: its 16-bit kernel (n1seg_k4, ScanLauncher.planHalf) reads the halves, nothing is widened
            assertEquals((long) n, c.get("cuLaunchKernel"), what + ": cuLaunchKernel");
            for (String none : List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuCtxSynchronize", "cuStreamSynchronize",
                    "cuEventSynchronize", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuFuncGetAttribute",
                    "cuFuncSetAttribute", "cuModuleGetFunction", "cuOccupancyMaxActiveBlocksPerMultiprocessor")) {
                assertEquals(0L, c.get(none), what + ": " + none);
            }
            // the memory budget's free-memory query is answered from its last result for a second: not once per call
            assertTrue(c.get("cuMemGetInfo_v2") <= 1, what + ": cuMemGetInfo_v2 " + c.get("cuMemGetInfo_v2"));
            // makeCurrent: one cuCtxSetCurrent per op (the calling thread may have another context current), and
            // one more with the budget's query
            assertTrue(c.get("cuCtxSetCurrent") <= n + 1L, what + ": cuCtxSetCurrent " + c.get("cuCtxSetCurrent"));
        }
    }
}
