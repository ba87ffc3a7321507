package org.ss2d.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The probe and the error path against a fake libcuda.so.1 built from src/test/native/fake_cuda.c,
 * each case in a child JVM (the probe answers once per process, and the loader path is read at
 * start). Skipped with a reason when no C compiler is installed.
 */
class CudaDriverProbeTest {
    private static Path libDir;
    private static Path cublas;

    @BeforeAll
    static void buildFakeDriver() throws IOException, InterruptedException {
        libDir = Path.of("target", "fake-cuda").toAbsolutePath();
        Files.createDirectories(libDir);
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-o", libDir.resolve("libcuda.so.1").toString(),
                    Path.of("src/test/native/fake_cuda.c").toAbsolutePath().toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("no C compiler (cc) to build the fake libcuda.so.1: " + e.getMessage());
            return;
        }
        String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "cc failed: " + log);
        // A fake cuBLAS under its soname, in a folder that is not on the loader path.
        cublas = Path.of("target", "fake-cublas", "libcublas.so.13").toAbsolutePath();
        Files.createDirectories(cublas.getParent());
        cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-Wl,-soname,libcublas.so.13", "-o", cublas.toString(),
                Path.of("src/test/native/fake_cublas.c").toAbsolutePath().toString()).redirectErrorStream(true).start();
        log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "cc failed: " + log);
        // Another libcublas.so.13 on the loader path, as a GPU host has its real one: the file that
        // -Dss2d.cublas.library names must still be the one opened (and the one that stays mapped).
        Files.copy(cublas, libDir.resolve("libcublas.so.13"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static List<String> run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                FakeDriverMain.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", libDir.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out.lines().toList();
    }

    private static String probe(Map<String, String> env) throws IOException, InterruptedException {
        return run(env).stream().filter(l -> l.startsWith("probe=")).findFirst().orElseThrow().substring(6);
    }

    @Test
    void reasonsInWords() throws IOException, InterruptedException {
        assertEquals("available", probe(Map.of()));
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE", probe(Map.of("FAKE_CU_INIT", "100")));
        assertEquals("the driver supports CUDA 12.4; the kernels need 13.0 or newer (update the NVIDIA driver)",
                probe(Map.of("FAKE_CU_VERSION", "12040")));
        assertEquals("no CUDA device (driver 13.0)", probe(Map.of("FAKE_CU_COUNT", "0")));
        assertEquals("CUDA device 0 has compute capability 7.5; the kernels are built for 8.0 (Ampere) and newer",
                probe(Map.of("FAKE_CU_MAJOR", "7", "FAKE_CU_MINOR", "5")));
    }

    @Test
    void errorsNameTheCallAndTheDriversWords() throws IOException, InterruptedException {
        List<String> out = run(Map.of(), "errors");
        assertTrue(out.contains("major=true") && out.contains("minor=true"), out.toString());
        assertTrue(out.contains("oom=cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) [status 2]; 1024 bytes"),
                out.toString());
        assertTrue(out.contains("error=cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected) [status 100]"
                + " name=CUDA_ERROR_NO_DEVICE"), out.toString());
    }

    /**
     * The CUDA IPC event calls (hand-written downcalls; kept as driver wrappers, stream order now uses host words): the
     * event is created interprocess with timing off (flags 0x4 | 0x2), its handle comes back as 64 bytes, and a
     * handle reaches cuIpcOpenEventHandle by value, all 64 bytes (the fake returns their weighted sum).
     */
    @Test
    void ipcEventsAreCreatedExportedAndOpenedByValue() throws IOException, InterruptedException {
        List<String> out = run(Map.of(), "ipc-events");
        assertTrue(out.contains("probe=available"), out.toString());
        assertTrue(out.contains("event=e006"), "CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING: " + out);
        assertTrue(out.contains("handle-derived=true"), out.toString());
        assertTrue(out.contains("opened-as-expected=true"), "the handle did not arrive whole, by value: " + out);
        assertTrue(out.contains("short=a CUDA IPC event handle has 64 bytes, found 63"), out.toString());
        assertTrue(out.stream().anyMatch(l -> l.startsWith("refused=cuIpcOpenEventHandle failed")), out.toString());
    }

    @Test
    void streamMemoryOperationsPassTheirArgumentsWhole() throws IOException, InterruptedException {
        List<String> out = run(Map.of(), "mem-ops");
        assertTrue(out.contains("probe=available"), out.toString());
        assertTrue(out.contains("register-flags=3"), "CU_MEMHOSTREGISTER_PORTABLE | DEVICEMAP: " + out);
        assertTrue(out.contains("written=fffffffe"), "the write's 32 bits in host memory: " + out);
        assertTrue(out.contains("passed-below=true"), out.toString());
        assertTrue(out.stream().anyMatch(l -> l.startsWith("waits-past-wrap=cuStreamWaitValue32_v2 failed")),
                "a wait for 1 after 0xfffffffe is not yet reached (cyclic GEQ): " + out);
    }

    /**
     * The libraries the facade opened stay loaded through garbage collections: the driver keeps the
     * state cuInit gave it (the fake answers CUDA_ERROR_NOT_INITIALIZED from a fresh copy), and cuBLAS,
     * opened by the path given (not the copy on the loader path), is still mapped from that file and found
     * by its soname by the generated bindings.
     */
    @Test
    void librariesStayLoadedAcrossGarbageCollections() throws IOException, InterruptedException {
        List<String> out = run(Map.of(), "gc", cublas.toString());
        assertTrue(out.contains("probe=available") && out.contains("cublas-load=loaded"), out.toString());
        // the fake, by its path, even where a real libcublas.so.13 is on the loader path (a GPU host)
        assertTrue(out.contains("cublas-from=" + cublas), "cuBLAS not opened from " + cublas + ": " + out);
        assertTrue(out.contains("cuda-mapped=true"), "libcuda.so.1 unloaded after GC: " + out);
        assertTrue(out.contains("cublas-mapped=true"), cublas + " unloaded after GC: " + out);
        assertTrue(out.contains("count-status=0"), "driver lost cuInit's state: " + out);
        assertTrue(out.contains("cublas-status=0"), "cuBLAS not found by the bindings after GC: " + out);
    }
}
