package org.ss2d.spark.exec;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where an executor JVM's task time goes, summed over its tasks since the last {@link #reset()}. Each
 * task's iterator owns a {@link Clock} that hands every stretch of the task thread's time, from the
 * partition's first row to its last, to exactly one {@link Stage}, as wall time and as the thread's
 * CPU time: a stage whose wall time is well above its CPU time was waiting (a lock, I/O, a core it did
 * not get), which is how a parallelism limit shows. Also counted: rows, batches, tasks, the distinct task
 * threads and the most tasks that ran at once.
 *
 * <p>The counters are static, per JVM. In local mode the executor is the driver's JVM, so the driver reads
 * them after the job ({@code spark-classify} prints them); on a cluster they stay in each executor's JVM
 * and the driver's are zero (Spark's own task metrics, which do reach the driver, still give run and CPU
 * time per task).
 */
public final class StageTimes {
    private StageTimes() {}

    /** One mapper for the JSON line of {@code spark-classify} (Jackson: no hand-written quoting or number formats). */
    public static final ObjectMapper JSON = new ObjectMapper();

    /** {@code x} to 3 decimals, so the line stays readable (the figures are timings, not exact values). */
    public static double round3(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    /** A task thread's time, in the order a row meets it. */
    public enum Stage {
        /** Spark's input iterator: the file's bytes (binaryFile) or a table's row, up to the row encoder. */
        READ("read"),
        /** The image's bytes to pixels ({@code ImageFiles}). */
        DECODE("decode"),
        /** Resize, crop, normalise ({@code ImagePreprocessor}); a tensor row's unboxing. */
        PREPROCESS("preprocess"),
        /** Waiting for the executor's model: its loading by the first task, then the other tasks' calls. */
        MODEL_WAIT("model wait"),
        /** Inside the model (or op) call, the results' copy to the host included. */
        MODEL_CALL("model call"),
        /** Stacking a batch, slicing its results into rows, top-k, the result rows. */
        CONVERT("convert"),
        /** Downstream of the partition function: Spark's row encoder and the sink (Parquet), between rows. */
        WRITE("write"),
        /** From the partition's last row to the task's end: the sink closing its file and committing it. */
        FINISH("task end");

        final String label;

        Stage(String label) {
            this.label = label;
        }
    }

    private static final int N = Stage.values().length;
    private static final LongAdder[] WALL = adders(), CPU = adders();
    static final LongAdder ROWS = new LongAdder();
    static final LongAdder BATCHES = new LongAdder();
    private static final LongAdder TASKS = new LongAdder();
    private static final Set<Long> THREADS = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger RUNNING = new AtomicInteger();
    private static final AtomicInteger MAX_RUNNING = new AtomicInteger();
    private static final Map<String, LongAdder> DEVICES = new ConcurrentSkipListMap<>();
    private static final AtomicLong FIRST_START = new AtomicLong(Long.MAX_VALUE);
    private static final AtomicLong LAST_END = new AtomicLong(Long.MIN_VALUE);
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
    private static final boolean HAS_CPU = MX.isCurrentThreadCpuTimeSupported();

    private static LongAdder[] adders() {
        LongAdder[] a = new LongAdder[Stage.values().length];
        for (int i = 0; i < a.length; i++) a[i] = new LongAdder();
        return a;
    }

    public static void reset() {
        for (int i = 0; i < N; i++) {
            WALL[i].reset();
            CPU[i].reset();
        }
        ROWS.reset();
        BATCHES.reset();
        TASKS.reset();
        THREADS.clear();
        DEVICES.clear();
        FIRST_START.set(Long.MAX_VALUE);
        LAST_END.set(Long.MIN_VALUE);
        MAX_RUNNING.set(RUNNING.get());
    }

    private static long cpuNow() {
        return HAS_CPU ? MX.getCurrentThreadCpuTime() : 0;
    }

    /**
     * One task's clock, used by its thread only: {@link #lap} gives the time since the previous lap to a
     * stage. Two clock reads per lap (a few hundred nanoseconds), a handful of laps per row.
     */
    static final class Clock {
        private long wall = System.nanoTime();
        private long cpu = cpuNow();
        private boolean ended;

        Clock() {
            TASKS.increment();
            FIRST_START.accumulateAndGet(wall, Math::min);
            THREADS.add(Thread.currentThread().threadId());
            MAX_RUNNING.accumulateAndGet(RUNNING.incrementAndGet(), Math::max);
        }

        void lap(Stage s) {
            long w = System.nanoTime(), c = cpuNow();
            WALL[s.ordinal()].add(w - wall);
            CPU[s.ordinal()].add(c - cpu);
            wall = w;
            cpu = c;
        }

        /** The partition's last row is out. */
        void end(Stage s) {
            lap(s);
            if (!ended) RUNNING.decrementAndGet();
            ended = true;
        }

        /**
         * The task completed (Spark's completion listener, on the task's thread): the time since the last row. A
         * task that failed, or stopped reading before its last row, is no longer running either: left counted, it
         * would raise every later job's {@code max_running_tasks} in this JVM ({@link #reset} starts from the
         * tasks running).
         */
        void finish() {
            if (ended) {
                lap(Stage.FINISH);
            } else {
                ended = true;
                RUNNING.decrementAndGet();
            }
            LAST_END.accumulateAndGet(wall, Math::max);
        }
    }

    /** A task of a model chose {@code backend} (the task's GPU resolved: cuda:N). */
    static void device(String backend) {
        DEVICES.computeIfAbsent(backend, k -> new LongAdder()).increment();
    }

    /** Tasks per backend since the last reset, as {@code {cuda:0=250}}. */
    public static String devices() {
        StringBuilder b = new StringBuilder("{");
        DEVICES.forEach((k, v) -> b.append(b.length() > 1 ? ", " : "").append(k).append('=').append(v.sum()));
        return b.append('}').toString();
    }

    /** The counters now. */
    public static Snapshot snapshot() {
        long[] w = new long[N], c = new long[N];
        for (int i = 0; i < N; i++) {
            w[i] = WALL[i].sum();
            c[i] = CPU[i].sum();
        }
        return new Snapshot(ROWS.sum(), BATCHES.sum(), TASKS.sum(), THREADS.size(), MAX_RUNNING.get(), w, c, HAS_CPU,
                FIRST_START.get(), LAST_END.get());
    }

    /** The one-line summary of {@link #snapshot()} (the throughput benchmark prints it per round). */
    public static String summary() {
        return snapshot().perRow();
    }

    /**
     * Stage times of this JVM's tasks: wall and CPU nanoseconds summed over task threads, per {@link Stage}.
     */
    public record Snapshot(long rows, long batches, long tasks, int threads, int maxRunning, long[] wallNanos,
                           long[] cpuNanos, boolean hasCpu, long firstTaskNanos, long lastTaskNanos) {
        /** Seconds from {@code jobStart} ({@link System#nanoTime()}) to the first task's partition function. */
        public double beforeFirstTask(long jobStart) {
            return tasks == 0 ? Double.NaN : (firstTaskNanos - jobStart) / 1e9;
        }

        /** Seconds from the last task's end to {@code jobEnd}. */
        public double afterLastTask(long jobEnd) {
            return lastTaskNanos == Long.MIN_VALUE ? Double.NaN : (jobEnd - lastTaskNanos) / 1e9;
        }

        public long wallNanos(Stage s) {
            return wallNanos[s.ordinal()];
        }

        public long cpuNanos(Stage s) {
            return cpuNanos[s.ordinal()];
        }

        public long totalWall() {
            long t = 0;
            for (long v : wallNanos) t += v;
            return t;
        }

        public long totalCpu() {
            long t = 0;
            for (long v : cpuNanos) t += v;
            return t;
        }

        /** {@code stage wall/cpu ms per row} for every stage, then the tasks' summary. */
        public String perRow() {
            double r = Math.max(1, rows);
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%d rows in %d batches, %d tasks on %d threads"
                    + " (at most %d at once); ms per row, wall%s:", rows, batches, tasks, threads, maxRunning, hasCpu ? "/cpu" : ""));
            for (Stage s : Stage.values()) {
                b.append(String.format(Locale.ROOT, " %s %.2f", s.label, wallNanos(s) / 1e6 / r));
                if (hasCpu) b.append(String.format(Locale.ROOT, "/%.2f", cpuNanos(s) / 1e6 / r));
            }
            b.append(String.format(Locale.ROOT, "; all %.2f", totalWall() / 1e6 / r));
            if (hasCpu) b.append(String.format(Locale.ROOT, "/%.2f", totalCpu() / 1e6 / r));
            return b.toString();
        }

        /**
         * Thread-seconds per stage against the job's wall time: how many task threads each stage kept busy
         * on average, and how much of {@code threads x wall} the tasks covered at all.
         */
        public String threadSeconds(double jobSeconds) {
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "task thread-seconds over a %.2f s job, wall%s:",
                    jobSeconds, hasCpu ? "/cpu" : ""));
            for (Stage s : Stage.values()) {
                b.append(String.format(Locale.ROOT, " %s %.2f", s.label, wallNanos(s) / 1e9));
                if (hasCpu) b.append(String.format(Locale.ROOT, "/%.2f", cpuNanos(s) / 1e9));
            }
            b.append(String.format(Locale.ROOT, "; all %.2f", totalWall() / 1e9));
            if (hasCpu) b.append(String.format(Locale.ROOT, "/%.2f", totalCpu() / 1e9));
            double busy = jobSeconds > 0 ? totalWall() / 1e9 / jobSeconds : Double.NaN;
            b.append(String.format(Locale.ROOT, " = %.1f task threads busy on average of %d", busy, threads));
            return b.toString();
        }

        /** The same as one JSON object (flat numbers, seconds and milliseconds to 3 decimals), for the caller to extend. */
        public ObjectNode json(double jobSeconds) {
            ObjectNode o = JSON.createObjectNode();
            o.put("rows", rows).put("batches", batches).put("tasks", tasks).put("task_threads", threads)
                    .put("max_running_tasks", maxRunning).put("job_wall_s", round3(jobSeconds));
            double r = Math.max(1, rows);
            for (Stage s : Stage.values()) {
                String k = s.name().toLowerCase(Locale.ROOT);
                o.put(k + "_ms_per_row", round3(wallNanos(s) / 1e6 / r)).put(k + "_thread_s", round3(wallNanos(s) / 1e9));
                if (hasCpu) o.put(k + "_cpu_thread_s", round3(cpuNanos(s) / 1e9));
            }
            return o;
        }
    }
}
