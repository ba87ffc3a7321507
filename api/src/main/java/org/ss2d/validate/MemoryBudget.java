package org.ss2d.validate;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import org.ss2d.spi.Backend;

/**
 * The memory an op may take before it runs: its outputs plus the backend's working memory (workspace, per-thread
 * scratch, see {@link Backend#scanWorkingBytes} and {@link Backend#blockWorkingBytes}), checked against the
 * backend's {@link Backend#memoryBudget()}. A small input can ask for an absurd output or workspace (a 64 GiB
 * {@code last_state} from a 12 MB file); this turns that into a {@link LimitExceededException} naming the biggest
 * part, the bytes and the budget, before anything is allocated, so that {@code auto} can try another backend and a
 * forced one says why.
 *
 * <p>The host budget is {@code -Dss2d.max-bytes} when set (bytes, or with a k/m/g/t suffix), else the JVM's heap
 * limit plus its direct-memory limit (host tensors live off-heap in Arrow memory, the CPU scratch on the heap), at
 * most the machine's physical memory.
 */
public final class MemoryBudget {
    private MemoryBudget() {}

    /** The system property that sets every backend's budget (device backends included). */
    public static final String PROPERTY = "ss2d.max-bytes";

    /** {@code -Dss2d.max-bytes} if set, else -1. */
    public static long configured() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) return -1;
        return parse(v.trim());
    }

    /** The host budget (see the class comment). */
    public static long hostBytes() {
        long set = configured();
        return set >= 0 ? set : JvmLimits.HOST;
    }

    /**
     * The JVM's limits, fixed for its lifetime, looked up once: the two MXBean queries cost ~55 us per call, which
     * was the whole facade overhead of a small op (a 1-element scan took 55 us in-process, 160 us in the engine).
     * Only {@code -Dss2d.max-bytes} is read on every call, so it can change at run time.
     */
    private static final class JvmLimits {
        static final long HOST = compute();

        private static long compute() {
            long heap = Runtime.getRuntime().maxMemory();
            long total = saturatingAdd(heap, directLimit(heap));
            long physical = physicalBytes();
            return physical > 0 ? Math.min(total, physical) : total;
        }
    }

    /**
     * Throws when {@code parts} (alternating names and byte counts: outputs first, then working memory) add up to
     * more than {@code backend.memoryBudget()}.
     */
    public static void check(String op, Backend backend, Object... parts) {
        check(op, "the " + backend.name() + " backend", backend::memoryBudget, parts);
    }

    /** {@link #check} for float64 computations on the host outside a backend (the conformance oracle). */
    public static void checkHost(String op, Object... parts) {
        check(op, "the host", MemoryBudget::hostBytes, parts);
    }

    private static void check(String op, String where, java.util.function.LongSupplier budgetOf, Object... parts) {
        long total = 0, most = -1;
        String biggest = op;
        StringBuilder list = new StringBuilder();
        for (int i = 0; i < parts.length; i += 2) {
            long bytes = (Long) parts[i + 1];
            if (bytes <= 0) continue;
            total = saturatingAdd(total, bytes);
            list.append(list.length() == 0 ? "" : ", ").append(parts[i]).append(' ').append(human(bytes));
            if (bytes > most) {
                most = bytes;
                biggest = (String) parts[i];
            }
        }
        if (total == 0) return;
        long budget = budgetOf.getAsLong();
        if (total > budget) {
            throw new LimitExceededException(biggest, op + " needs " + total + " bytes (" + human(total) + ": " + list
                    + ") on " + where + ", over its memory budget of " + budget + " bytes ("
                    + human(budget) + "; -D" + PROPERTY + "=BYTES changes it)");
        }
    }

    /** {@code a * b * ...} for non-negative factors, {@code Long.MAX_VALUE} when it overflows. */
    public static long product(long... factors) {
        long p = 1;
        for (long f : factors) {
            if (f != 0 && p > Long.MAX_VALUE / f) return Long.MAX_VALUE;
            p *= f;
        }
        return p;
    }

    public static long saturatingAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    static long parse(String v) {
        String s = v.toLowerCase(Locale.ROOT);
        long unit = 1;
        char last = s.charAt(s.length() - 1);
        int shift = switch (last) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        if (shift > 0) {
            unit = 1L << shift;
            s = s.substring(0, s.length() - 1);
        }
        try {
            long n = Long.parseLong(s);
            if (n < 0) throw new NumberFormatException();
            return product(n, unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + ": expected a byte count (optionally with k, m, g or t), found \""
                    + v + "\"");
        }
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** -XX:MaxDirectMemorySize, or the heap limit when unset (the JVM's own default). */
    private static long directLimit(long heap) {
        try {
            var mx = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            long set = Long.parseLong(mx.getVMOption("MaxDirectMemorySize").getValue());
            return set > 0 ? set : heap;
        } catch (RuntimeException | LinkageError e) { // no jdk.management in a trimmed runtime
            return heap;
        }
    }

    private static long physicalBytes() {
        try {
            var os = ManagementFactory.getOperatingSystemMXBean();
            return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getTotalMemorySize() : -1;
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }
}
