package org.ss2d.spark.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.ss2d.spark.ModelSpec;
import org.ss2d.spark.Ss2dSpark;
import org.ss2d.spark.exec.StageTimes;
import org.ss2d.validate.Ss2dArgumentException;

/** The Spark side of {@code ss2d spark-classify}: read, classify, write, count. */
final class SparkClassifyJob {
    private SparkClassifyJob() {}

    record Options(String model, String weights, String input, String output, String master, String backend,
                   int batch, int top, int threads, int partitions, boolean failOnError, boolean sparkSplit) {}

    /** Image file names the folder input takes (Hadoop glob syntax). */
    static final String IMAGES = "*.{jpg,jpeg,png,JPG,JPEG,PNG}";

    static String run(Options o) {
        SparkSession.Builder b = SparkSession.builder().appName("ss2d spark-classify");
        // spark-submit passes its --master as the spark.master property; without it, all local cores.
        if (o.master() != null) b.master(o.master());
        else if (System.getProperty("spark.master") == null) b.master("local[*]");
        SparkSession spark = b.getOrCreate();
        // Spark's INFO lines would bury the one summary line (a log4j2 configuration of the user's still wins later).
        spark.sparkContext().setLogLevel("WARN");
        try {
            long t0 = System.nanoTime();
            StageTimes.reset();
            double cpu0 = processCpuSeconds(), gc0 = gcSeconds();
            Dataset<Row> in = read(spark, o.input());
            String split;
            if (List.of(in.columns()).contains("path") && List.of(in.columns()).contains("content") && !o.sparkSplit()) {
                split = splitFiles(spark, in, o.partitions(), o.batch());
            } else {
                if (o.partitions() > 0) in = in.repartition(o.partitions());
                split = o.partitions() > 0 ? "repartitioned" : "as read";
            }
            ModelSpec spec = ModelSpec.of(o.weights()).withModel(o.model()).withBackend(o.backend()).withBatchSize(o.batch())
                    .withTopK(o.top()).withThreads(o.threads()).withFailOnError(o.failOnError());
            if (!List.of(in.columns()).contains("content")) spec = spec.withTensors("x", "x_shape");
            Dataset<Row> out = Ss2dSpark.classify(in, spec);
            List<Column> keep = new ArrayList<>();
            for (String c : out.columns()) if (!c.equals("content") && !c.equals("x")) keep.add(functions.col(c));
            out.select(keep.toArray(Column[]::new)).write().parquet(o.output());
            long t1 = System.nanoTime();
            double s = (t1 - t0) / 1e9;
            double cpu = processCpuSeconds() - cpu0, gc = gcSeconds() - gc0;
            StageTimes.Snapshot st = StageTimes.snapshot();
            Dataset<Row> written = spark.read().parquet(o.output());
            long rows = written.count();
            long errors = written.filter(functions.col("error").isNotNull()).count();
            int partitions = spark.read().parquet(o.output()).inputFiles().length;
            int cores = Runtime.getRuntime().availableProcessors();
            int slots = spark.sparkContext().defaultParallelism();
            StringBuilder r = new StringBuilder(String.format(Locale.ROOT,
                    "spark-classify: %d row%s (%d with an error) on %s in %.1f s (%.1f rows/s) -> %s",
                    rows, rows == 1 ? "" : "s", errors, spark.sparkContext().master(), s, rows / s, o.output()));
            if (st.rows() == 0) {
                // A cluster: the tasks ran in the executors' JVMs, whose counters the driver cannot see.
                r.append("\nspark-classify stages: none in this JVM (the executors are other JVMs; see Spark's task metrics)");
            } else {
                r.append("\nspark-classify stages: ").append(st.perRow());
                r.append("\nspark-classify threads: ").append(st.threadSeconds(s)).append(String.format(Locale.ROOT,
                        " (%d task slots: %.1f slot-seconds outside the tasks; %.2f s before the first, %.2f s after the last)"
                        + "; process CPU %.1f s = %.1f of %d cores busy, GC %.2f s; split: %s, %d output files; tasks per backend %s",
                        slots, slots * s - st.totalWall() / 1e9, st.beforeFirstTask(t0), st.afterLastTask(t1), cpu, cpu / s, cores, gc, split, partitions, StageTimes.devices()));
                ObjectNode j = st.json(s)
                        .put("before_first_task_s", StageTimes.round3(st.beforeFirstTask(t0)))
                        .put("after_last_task_s", StageTimes.round3(st.afterLastTask(t1)))
                        .put("rows_per_s", Math.round(rows / s * 100) / 100.0).put("process_cpu_s", StageTimes.round3(cpu))
                        .put("cores", cores).put("task_slots", slots).put("gc_s", StageTimes.round3(gc))
                        .put("output_files", partitions);
                r.append("\nspark-classify json: ").append(j.toString());
            }
            return r.toString();
        } finally {
            spark.stop();
        }
    }

    /**
     * Splits a folder's files into partitions of a number of files, without a shuffle: Spark's own split
     * packs files by bytes (128 MB a partition, each file counted with a 4 MB open cost: ~29 small images,
     * whatever the batch), so a partition's last batch is short and the last wave of tasks may run on few
     * of the cores. Here every file costs one "open" of {@link #FILE_UNIT} and a partition holds {@code k}
     * of them: k = ceil(files / partitions) when partitions are asked for; else about {@link #WAVES} tasks per
     * task slot, rounded up to whole batches (each task also pays for opening and committing its output
     * file, so a partition per batch costs more than it saves), and fewer than a batch where that would
     * leave task slots without a partition. Files above {@link #FILE_UNIT} would get a partition of their
     * own. The settings are the session's, read when the job's scan is planned.
     */
    static String splitFiles(SparkSession spark, Dataset<Row> in, int partitions, int batch) {
        int files = in.inputFiles().length;
        int slots = spark.sparkContext().defaultParallelism();
        long k;
        if (partitions > 0) {
            k = ceil(files, partitions);
        } else {
            k = ceil(files, WAVES * slots);
            k = k >= batch ? ceil(k, batch) * batch : Math.min(batch, ceil(files, slots));
        }
        k = Math.max(1, k);
        spark.conf().set("spark.sql.files.openCostInBytes", FILE_UNIT);
        spark.conf().set("spark.sql.files.maxPartitionBytes", k * FILE_UNIT);
        // One "core" for Spark's bytes-per-core cap, so that maxPartitionBytes is the split size.
        spark.conf().set("spark.sql.files.minPartitionNum", 1L);
        return String.format(Locale.ROOT, "%d files by %d (%d partitions for %d task slots)", files, k, ceil(files, (int) k), slots);
    }

    /** Tasks per task slot the default split aims at: the last wave's idle slots cost at most ~1/(2 WAVES). */
    static final int WAVES = 4;

    /** The unit a file counts as when a folder is split: above any image's size. */
    static final long FILE_UNIT = 1L << 30;

    private static long ceil(long a, int b) {
        return (a + b - 1) / b;
    }

    private static double processCpuSeconds() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() / 1e9 : Double.NaN;
    }

    private static double gcSeconds() {
        long ms = 0;
        for (GarbageCollectorMXBean g : ManagementFactory.getGarbageCollectorMXBeans()) ms += Math.max(0, g.getCollectionTime());
        return ms / 1e3;
    }

    /** A Parquet table (a .parquet path, or a folder holding .parquet files), else a folder of images. */
    static Dataset<Row> read(SparkSession spark, String input) {
        if (isParquet(input)) return spark.read().parquet(input);
        Dataset<Row> images = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", IMAGES).load(input);
        // The listing the source has made already (driver-side), not a Spark job reading a row.
        if (images.inputFiles().length == 0) {
            throw new Ss2dArgumentException("--input", "a folder with JPEG or PNG files (" + IMAGES + ")", "none in " + input, null);
        }
        return images;
    }

    private static boolean isParquet(String input) {
        if (input.endsWith(".parquet")) return true;
        if (!SparkClassifyCommand.local(input)) return false;
        Path p = Path.of(input.startsWith("file:") ? java.net.URI.create(input).getPath() : input);
        if (!Files.isDirectory(p)) return false;
        try (Stream<Path> s = Files.list(p)) {
            return s.anyMatch(f -> f.getFileName().toString().endsWith(".parquet"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
