package org.ss2d.interop.transfer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ss2d.Backends;
import org.ss2d.spi.Backend;
import org.ss2d.spi.PinnedMemory;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Host-device bandwidth from Arrow memory, through the Backend SPI only ({@link Backend#allocate},
 * {@link Backend#copy}, {@link Backend#pin}, {@link Backend#synchronize}):
 *
 * <ol>
 *   <li>an Arrow-backed host tensor as it comes (pageable memory: the driver stages it);</li>
 *   <li>the same tensor registered with {@link Backend#pin} (no copy: the Arrow buffer itself is pinned);</li>
 *   <li>a plain page-aligned FFM segment, pinned the same way: the baseline that Arrow memory must match.</li>
 * </ol>
 *
 * Every variant is checked before it is timed (a pattern goes host to device to a poisoned host
 * tensor and must come back bit for bit), so a wrong copy cannot post a number.
 *
 * <pre>
 * java $(cat cli/target/ss2d/jvm.flags) -cp 'cli/target/ss2d/lib/*' org.ss2d.interop.transfer.TransferBenchmark \
 *      --backend cuda --mib 64,256,1024 --reps 20
 * </pre>
 */
public final class TransferBenchmark {
    /** One measured variant: median GB/s (10^9 bytes per second) each way. */
    public record Row(String memory, long bytes, boolean pinned, double h2d, double d2h) {}

    private TransferBenchmark() {}

    public static void main(String[] args) {
        String backend = null;
        long[] mib = {256};
        int reps = 20, warmup = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i];
                case "--mib" -> mib = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: TransferBenchmark [--backend NAME] [--mib 64,256] [--reps 20] [--warmup 3]");
                    System.exit(2);
                }
            }
        }
        Backend b = backend == null ? Backends.best() : Backends.get(backend);
        System.out.printf(Locale.ROOT, "transfer benchmark: backend %s (%s), median of %d after %d warm-up%n",
                b.name(), b.capabilities().device(), reps, warmup);
        for (long m : mib) {
            List<Row> rows = run(b, m * 1024 * 1024, reps, warmup);
            System.out.print(format(rows));
        }
    }

    /** Runs the three variants at {@code bytes} (rounded down to whole floats). */
    public static List<Row> run(Backend b, long bytes, int reps, int warmup) {
        long n = bytes / Float.BYTES;
        List<Row> rows = new ArrayList<>();
        try (TensorScope scope = TensorScope.root("transfer-bench"); Arena plain = Arena.ofShared()) {
            Tensor dev = b.allocate(scope, DType.F32, n);
            Tensor back = scope.allocate(DType.F32, n);
            Tensor arrow = scope.allocate("arrow", DType.F32, n);
            rows.add(measure(b, "arrow buffer, pageable", arrow, PinnedMemory.NONE, dev, back, reps, warmup));
            try (PinnedMemory p = b.pin(arrow)) {
                rows.add(measure(b, "arrow buffer, Backend.pin", arrow, p, dev, back, reps, warmup));
            }
            MemorySegment seg = plain.allocate(n * Float.BYTES, 4096);
            Tensor base = scope.wrap("plain", seg, DType.F32, n);
            try (PinnedMemory p = b.pin(base)) {
                rows.add(measure(b, "plain segment, Backend.pin", base, p, dev, back, reps, warmup));
            }
            base.close();
            arrow.close();
            back.close();
            dev.close();
        }
        return rows;
    }

    private static Row measure(Backend b, String what, Tensor host, PinnedMemory pin, Tensor dev, Tensor back,
                               int reps, int warmup) {
        verify(b, what, host, dev, back);
        double[] h2d = new double[reps], d2h = new double[reps];
        for (int i = -warmup; i < reps; i++) {
            long t0 = System.nanoTime();
            b.copy(host, dev);
            b.synchronize();
            long t1 = System.nanoTime();
            b.copy(dev, host);
            b.synchronize();
            long t2 = System.nanoTime();
            if (i >= 0) {
                h2d[i] = host.byteSize() / (double) (t1 - t0);
                d2h[i] = host.byteSize() / (double) (t2 - t1);
            }
        }
        return new Row(what, host.byteSize(), pin.pinned(), median(h2d), median(d2h));
    }

    /** host -> device -> a poisoned host tensor must give the pattern back exactly. */
    private static void verify(Backend b, String what, Tensor host, Tensor dev, Tensor back) {
        long n = host.elementCount();
        for (long i = 0; i < n; i++) host.setFloat(i, (float) ((i * 2654435761L) % 1000003) - 500001.5f);
        back.fill(Float.NaN);
        b.copy(host, dev);
        b.copy(dev, back);
        b.synchronize();
        long mismatch = MemorySegment.mismatch(host.segment(), 0, host.byteSize(), back.segment(), 0, back.byteSize());
        if (mismatch != -1) {
            throw new IllegalStateException("backend " + b.name() + ", " + what + ", f32(" + n + "): the round trip "
                    + "host -> device -> host differs at byte " + mismatch + "; no number is reported for a wrong copy");
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** The table the lead pastes into the note. */
    public static String format(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-28s %10s %7s %9s %9s%n", "host memory", "MiB", "pinned", "H2D GB/s", "D2H GB/s"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-28s %10d %7s %9.2f %9.2f%n", r.memory(), r.bytes() >> 20,
                    r.pinned() ? "yes" : "no", r.h2d(), r.d2h()));
        }
        if (rows.size() == 3) {
            Row arrow = rows.get(1), base = rows.get(2);
            sb.append(String.format(Locale.ROOT, "%-28s %10s %7s %8.1f%% %8.1f%%%n", "pinned arrow / pinned plain", "", "",
                    100 * arrow.h2d() / base.h2d(), 100 * arrow.d2h() / base.d2h()));
            if (!arrow.pinned()) {
                sb.append("note: this backend pins nothing (Backend.pin returned NONE): rows 2 and 3 are pageable\n");
            }
        }
        return sb.toString();
    }
}
