package org.ss2d.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Locale;
import java.util.List;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.ops.ScanArgs;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The host path of a selective scan on device tensors, run against the fake driver of
 * {@code src/test/native/fake_device.c} (an H100 that runs nothing) in a JVM whose loader path holds it:
 * {@code count} prints the driver calls of {@link #COUNTED} ops after the first two of their shape
 * ({@code calls CASE ENTRY N});
 * {@code time} also prints the host microseconds per call ({@code host_us SHAPE X}), the scan through the facade
 * against the empty launch of {@link CudaDiagnostics#noop} in the same run; {@code curve} the mean host time of
 * calls 1, 2-10, 11-100, ... from a cold JVM (the JIT's warm-up as a caller sees it). Run by
 * {@code CudaHostPathTest}; by hand as backend-cuda/README.md says. Under a real driver the counts print as -1.
 */
public final class HostPathMain {
    private HostPathMain() {}

    /** Calls counted per case (the counts printed are their sum). */
    static final int COUNTED = 20;

    /** The entry points whose counts are printed. */
    static final String[] ENTRIES = {"cuLaunchKernel", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemGetInfo_v2",
            "cuCtxSynchronize", "cuStreamSynchronize", "cuEventSynchronize", "cuMemcpyHtoDAsync_v2",
            "cuMemcpyDtoHAsync_v2", "cuFuncGetAttribute", "cuFuncSetAttribute", "cuModuleGetFunction",
            "cuOccupancyMaxActiveBlocksPerMultiprocessor", "cuCtxSetCurrent", "cuCtxGetCurrent"};

    /**
     * S1, S3, S4 of the README's tables (batch, dim, groups, seqlen, dstate) and a dstate-16 shape (S2) in float32;
     * S1 in bfloat16 (the kernel that reads 16-bit rows 8 halves at a time) and S4 in bfloat16 (seqlen % 8 != 0: the
     * kernel that reads them 4 at a time; widened to float32 copies before it existed).
     */
    record Case(String name, DType dtype, int batch, int dim, int groups, int seqlen, int dstate) {}

    static final List<Case> CASES = List.of(
            new Case("S1", DType.F32, 32, 768, 4, 3136, 1),
            new Case("S3", DType.F32, 32, 1536, 4, 784, 1),
            new Case("S4", DType.F32, 32, 3072, 4, 196, 1),
            new Case("S2", DType.F32, 32, 768, 4, 3136, 16),
            new Case("S1-bf16", DType.BF16, 32, 768, 4, 3136, 1),
            new Case("S4-bf16", DType.BF16, 32, 3072, 4, 196, 1));

    /** fake_cu_calls and fake_cu_reset, or null under a real driver (then only times are printed); looked up on first use. */
    private static final class Fake {
        static final MethodHandle CALLS, RESET;

        static {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            Linker l = Linker.nativeLinker();
            var calls = lib.find("fake_cu_calls");
            var reset = lib.find("fake_cu_reset");
            CALLS = calls.isPresent() ? l.downcallHandle(calls.get(), FunctionDescriptor.of(JAVA_LONG, ADDRESS)) : null;
            RESET = reset.isPresent() ? l.downcallHandle(reset.get(), FunctionDescriptor.ofVoid()) : null;
        }
    }

    static long calls(String entry) {
        if (Fake.CALLS == null) return -1;
        try (Arena a = Arena.ofConfined()) {
            return (long) Fake.CALLS.invokeExact(a.allocateFrom(entry));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void reset() {
        if (Fake.RESET == null) return;
        try {
            Fake.RESET.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void main(String[] args) {
        boolean time = args.length > 0 && args[0].equals("time");
        boolean curve = args.length > 0 && args[0].equals("curve");
        Backend cuda = Backends.get("cuda");
        Ss2d ss = Ss2d.on(cuda);
        System.out.println("device " + cuda.capabilities().device());
        if (time) {
            CudaDiagnostics d = ((CudaBackend) cuda).diagnostics();
            System.out.println("host_us noop " + usPerCall(d::noop));
        }
        for (Case c : CASES) {
            int b = c.batch(), dm = c.dim(), g = c.groups(), l = c.seqlen(), n = c.dstate();
            DType act = c.dtype();
            try (TensorScope scope = TensorScope.root("host-path-" + c.name())) {
                // Device tensors never written: the fake runs no kernel, and only addresses matter here.
                Tensor u = cuda.allocate(scope, act, b, dm, l), delta = cuda.allocate(scope, act, b, dm, l);
                Tensor a = cuda.allocate(scope, DType.F32, dm, n);
                Tensor bm = cuda.allocate(scope, act, b, g, n, l), cm = cuda.allocate(scope, act, b, g, n, l);
                Tensor dSkip = cuda.allocate(scope, DType.F32, dm), bias = cuda.allocate(scope, DType.F32, dm);
                Tensor out = cuda.allocate(scope, act, b, dm, l);
                ScanArgs args1 = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).deltaBias(bias).deltaSoftplus(true).build();
                Runnable op = () -> ss.selectiveScanInto(args1, out, null);
                if (curve) {
                    printCurve(c.name(), op);
                    scope.release();
                    continue;
                }
                // The first call of a shape looks its kernel up; one whose workspace comes from the scratch arena
                // (16-bit inputs widened) records its demand there, and the second call grows the arena to it.
                op.run();
                op.run();
                reset();
                for (int i = 0; i < COUNTED; i++) op.run();
                for (String entry : ENTRIES) System.out.println("calls " + c.name() + " " + entry + " " + calls(entry));
                if (time) System.out.println("host_us " + c.name() + " " + usPerCall(op));
                scope.release();
            }
        }
        cuda.synchronize();
    }

    /** From a cold JVM: the mean host time of calls 1, 2-10, 11-100, ... (the JIT's warm-up as a caller sees it). */
    static void printCurve(String shape, Runnable op) {
        int[] ends = {1, 10, 100, 1000, 3000, 6000, 10000, 20000, 40000};
        int done = 0;
        for (int end : ends) {
            long t0 = System.nanoTime();
            for (int i = done; i < end; i++) op.run();
            System.out.printf(Locale.ROOT, "curve %s calls %d-%d %.2f us%n", shape, done + 1, end,
                    (System.nanoTime() - t0) / 1e3 / (end - done));
            done = end;
        }
    }

    private static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * Median over 7 rounds of the mean host time of a call (wall and this thread's CPU time: the build machine is
     * shared, and CPU time is less disturbed by other processes), after a warm-up long enough for C2.
     */
    static String usPerCall(Runnable op) {
        long end = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < end) op.run();
        double[] us = new double[7], cpu = new double[7];
        int n = 20_000;
        for (int r = 0; r < us.length; r++) {
            long c0 = MX.getCurrentThreadCpuTime(), t0 = System.nanoTime();
            for (int i = 0; i < n; i++) op.run();
            us[r] = (System.nanoTime() - t0) / 1e3 / n;
            cpu[r] = (MX.getCurrentThreadCpuTime() - c0) / 1e3 / n;
        }
        Arrays.sort(us);
        Arrays.sort(cpu);
        return String.format(Locale.ROOT, "%.2f cpu_us %.2f", us[us.length / 2], cpu[cpu.length / 2]);
    }
}
