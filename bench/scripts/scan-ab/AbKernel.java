package abh;

import java.lang.foreign.MemorySegment;
import org.ss2d.cpu.CpuBackend;
import org.ss2d.cpu.kernel.ScanJob;
import org.ss2d.ops.BCMode;

/** Loaded once per variant's class loader: a scan of the given segments on that variant's backend. */
public final class AbKernel {
    public static Runnable make(MemorySegment[] s, int[] dims, int threads) {
        int b = dims[0], d = dims[1], g = dims[2], l = dims[3], n = dims[4];
        ScanJob j = new ScanJob(s[0], s[1], s[2], s[3], BCMode.GROUPED, 0, (long) g * n * l, (long) n * l, l,
                s[4], BCMode.GROUPED, 0, (long) g * n * l, (long) n * l, l, s[5], s[6], null, true, s[7], null,
                b, d, l, n, g);
        CpuBackend be = new CpuBackend(threads);
        return () -> be.scan(j);
    }
}
