package org.ss2d.bindings;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ss2d.bindings.cublas.CublasH;
import org.ss2d.bindings.cuda.CudaH;

/** Run by CudaDriverProbeTest in a child JVM whose loader path holds the fake libcuda.so.1. */
public final class FakeDriverMain {
    private FakeDriverMain() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length > 1 && args[0].equals("gc")) {
            probeCollectUse(args[1]);
            return;
        }
        if (args.length > 0 && args[0].equals("mem-ops")) {
            memOps();
            return;
        }
        if (args.length > 0 && args[0].equals("ipc-events")) {
            ipcEvents();
            return;
        }
        CudaDriver.Probe p = CudaDriver.probe();
        System.out.println("probe=" + (p.available() ? "available" : p.reason()));
        if (args.length > 0 && args[0].equals("errors")) {
            // The generated class loads (the library exists) and the error path names the call.
            System.out.println("major=" + (CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR()
                    == CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
            System.out.println("minor=" + (CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR()
                    == CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
            try {
                CudaDriver.check(2, "cuMemAlloc_v2", "1024 bytes");
            } catch (CudaOutOfMemoryException e) {
                System.out.println("oom=" + e.getMessage());
            }
            try {
                CudaDriver.check(100, "cuInit");
            } catch (CudaException e) {
                System.out.println("error=" + e.getMessage() + " name=" + e.errorName());
            }
        }
    }

    /**
     * The hand-written IPC event downcalls against the fake: the flags an interprocess event is created with, the
     * handle's 64 bytes read back, and a handle passed by value whole (the fake answers with a weighted sum of the
     * bytes it received); a handle of the wrong size and a driver error.
     */
    private static void ipcEvents() {
        System.out.println("probe=" + (CudaDriver.probe().available() ? "available" : CudaDriver.probe().reason()));
        MemorySegment event = CudaDriver.eventCreateInterprocess();
        System.out.println("event=" + Long.toHexString(event.address()));
        byte[] h = CudaDriver.ipcGetEventHandle(event);
        boolean derived = h.length == 64;
        for (int i = 0; i < h.length; i++) derived &= h[i] == (byte) (event.address() + 3L * i);
        System.out.println("handle-derived=" + derived);
        long sum = 0;
        for (int i = 0; i < h.length; i++) sum += (h[i] & 0xffL) * (i + 1);
        System.out.println("opened-as-expected=" + (CudaDriver.ipcOpenEventHandle(h).address() == 0x100000L + sum));
        try {
            CudaDriver.ipcOpenEventHandle(new byte[63]);
        } catch (IllegalArgumentException e) {
            System.out.println("short=" + e.getMessage());
        }
        byte[] bad = h.clone();
        bad[0] = (byte) 0xFF;
        try {
            CudaDriver.ipcOpenEventHandle(bad);
        } catch (CudaException e) {
            System.out.println("refused=" + e.getMessage());
        }
    }

    /**
     * The hand-written stream memory operations against the fake: registration with PORTABLE | DEVICEMAP (the fake
     * puts the flags into the device address), a write that lands in host memory whole (all 32 bits), and waits
     * compared in cyclic order (the fake refuses one that would not pass at once).
     */
    private static void memOps() {
        System.out.println("probe=" + (CudaDriver.probe().available() ? "available" : CudaDriver.probe().reason()));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(4096, 4096);
            long d = CudaDriver.hostRegisterMapped(host);
            System.out.println("register-flags=" + ((d - host.address()) >> 40));
            CudaDriver.streamWriteValue32(MemorySegment.NULL, d + 64, 0xFFFFFFFE);
            System.out.println("written=" + Integer.toHexString(host.get(ValueLayout.JAVA_INT, 64)));
            CudaDriver.streamWaitValue32(MemorySegment.NULL, d + 64, 0xFFFFFFFD);
            System.out.println("passed-below=true");
            try {
                CudaDriver.streamWaitValue32(MemorySegment.NULL, d + 64, 1); // past the wrap: not reached yet
                System.out.println("passed-past-wrap=true");
            } catch (CudaException e) {
                System.out.println("waits-past-wrap=" + e.getMessage());
            }
            CudaDriver.hostUnregister(host);
        }
    }

    /**
     * The probe and cuBLAS's load by path, then garbage collections (with time for the cleaner), then
     * calls through the generated bindings: the driver must still be the one cuInit set up (the fake
     * forgets it when unloaded) and cuBLAS still loaded (it is not on the loader path).
     */
    private static void probeCollectUse(String cublasPath) throws IOException, InterruptedException {
        CudaDriver.Probe p = CudaDriver.probe();
        System.out.println("probe=" + (p.available() ? "available" : p.reason()));
        System.setProperty("ss2d.cublas.library", cublasPath);
        System.out.println("cublas-load=" + (Cublas.load() == null ? "loaded" : Cublas.load()));
        for (int i = 0; i < 10; i++) {
            System.gc();
            Thread.sleep(100);
        }
        String maps = Files.readString(Path.of("/proc/self/maps"));
        System.out.println("cuda-mapped=" + maps.contains("fake-cuda/libcuda.so.1"));
        // The file cuBLAS was opened from (-Dss2d.cublas.library wins over a real cuBLAS on the loader path, as
        // on a GPU host), still mapped: the fake's own path, not just any libcublas.
        System.out.println("cublas-from=" + Cublas.loadedFrom());
        System.out.println("cublas-mapped=" + maps.contains(cublasPath));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            System.out.println("count-status=" + CudaH.cuDeviceGetCount(n));
            System.out.println("cublas-status=" + CublasH.cublasGetVersion_v2(MemorySegment.NULL, n));
        } catch (Throwable t) {
            System.out.println("use-failed=" + t);
        }
    }
}
