package org.ss2d.spark.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.image.RgbImage;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.interop.safetensors.SafeTensorsWriter;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.spark.ModelSpec;
import org.ss2d.spark.Ss2dSpark;
import org.ss2d.spark.exec.Checks;
import org.ss2d.spark.exec.StageTimes;
import org.ss2d.spi.BackendOptions;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Spark's overhead on one machine: the same images through the single-process path of {@code ss2d classify}
 * (decode and preprocess on one thread, the model on a CPU backend of {@code threads} workers, batches of
 * {@code batch}) and through {@link Ss2dSpark#classify} on {@code local[threads]} with the same backend
 * threads and batch, alternating round by round (and which goes first) so that both see the same machine; wall time and the
 * process's CPU time of each (the CPU time is the steadier figure on a shared, loaded machine). Spark's session is
 * made once (an executor lives long); its rounds end in Spark's {@code noop} sink, so the time is reading,
 * decoding, the model and Spark's row conversion, without a file format.
 *
 * <pre>java [ss2d + Spark JVM flags] -cp ... org.ss2d.spark.bench.SparkThroughput images=DIR weights=FILE
 *      [model=vmamba_tiny_s1l8 (random weights written to weights= when the file is missing)] [n=48] threads=2 batch=8 rounds=3</pre>
 */
public final class SparkThroughput {
    private SparkThroughput() {}

    public static void main(String[] args) throws IOException {
        Map<String, String> a = new java.util.HashMap<>();
        for (String s : args) {
            int i = s.indexOf('=');
            if (i < 1) throw new IllegalArgumentException("expected key=value, found " + s);
            a.put(s.substring(0, i), s.substring(i + 1));
        }
        Path images = Path.of(a.getOrDefault("images", "target/bench-images"));
        Path weights = Path.of(a.getOrDefault("weights", "target/bench-weights.safetensors"));
        int n = Integer.parseInt(a.getOrDefault("n", "48"));
        int threads = Integer.parseInt(a.getOrDefault("threads", "2"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "3"));
        if (!Files.isRegularFile(weights)) {
            VMambaConfig c = VMambaConfig.named(a.getOrDefault("model", "vmamba_tiny_s1l8"));
            try (TensorScope s = TensorScope.root("weights")) {
                SafeTensorsWriter.write(weights, VMambaRandomWeights.of(s, c, 1).params(), Map.of());
                s.release();
            }
        }
        List<Path> files = generate(images, n);
        System.out.printf(Locale.ROOT, "%d images, %s, threads %d, batch %d, load average %s%n", files.size(),
                weights.getFileName(), threads, batch, load());
        SparkSession spark = SparkSession.builder().master("local[" + threads + "]").appName("ss2d spark throughput")
                .config("spark.ui.enabled", "false").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        ModelSpec spec = ModelSpec.of(weights.toAbsolutePath().toString()).withBackend("cpu").withThreads(threads)
                .withBatchSize(batch);
        try (SafeTensorsFile f = SafeTensorsFile.open(weights); TensorScope scope = TensorScope.root("single");
             VMambaModel model = VMambaModel.of(Ss2d.on(Backends.create("cpu", BackendOptions.threads(threads))),
                     Checks.weights(f, weights.toString(), null))) {
            double[] single = new double[rounds + 1], onSpark = new double[rounds + 1];
            double[] singleCpu = new double[rounds + 1], sparkCpu = new double[rounds + 1];
            double[] decode = new double[rounds + 1];
            for (int r = 0; r <= rounds; r++) { // round 0 warms both paths up and is not counted
                double[] d = new double[1];
                // Odd rounds run Spark first, so that a machine whose load drifts favours neither path.
                StageTimes.reset();
                double c0 = cpuSeconds();
                if (r % 2 == 1) {
                    onSpark[r] = spark(spark, images, spec);
                    sparkCpu[r] = cpuSeconds() - c0;
                    c0 = cpuSeconds();
                }
                single[r] = singleProcess(files, model, scope, batch, d);
                singleCpu[r] = cpuSeconds() - c0;
                decode[r] = d[0];
                if (r % 2 == 0) {
                    c0 = cpuSeconds();
                    onSpark[r] = spark(spark, images, spec);
                    sparkCpu[r] = cpuSeconds() - c0;
                }
                System.out.printf(Locale.ROOT, "round %d%s: single process %.2f s (%.2f images/s; decode+preprocess %.1f ms/image,"
                                + " model %.1f ms/image), Spark local[%d] %.2f s (%.2f images/s): overhead %+.1f%%, load %s%n",
                        r, r == 0 ? " (warm-up)" : "", single[r], files.size() / single[r], 1e3 * d[0] / files.size(),
                        1e3 * (single[r] - d[0]) / files.size(), threads, onSpark[r], files.size() / onSpark[r],
                        100 * (onSpark[r] / single[r] - 1), load());
                System.out.printf(Locale.ROOT, "  process CPU time: single process %.2f s, Spark %.2f s (%+.1f%%); Spark tasks: %s%n",
                        singleCpu[r], sparkCpu[r], 100 * (sparkCpu[r] / singleCpu[r] - 1), StageTimes.summary());
            }
            double s = median(Arrays.copyOfRange(single, 1, rounds + 1)), p = median(Arrays.copyOfRange(onSpark, 1, rounds + 1));
            double[] paired = new double[rounds];
            for (int r = 1; r <= rounds; r++) paired[r - 1] = onSpark[r] / single[r];
            System.out.printf(Locale.ROOT, "median of %d rounds: single process %.2f images/s, Spark %.2f images/s, Spark overhead %+.1f%%"
                            + " (ratio of the medians), %+.1f%% (median of the rounds' own ratios)%n",
                    rounds, files.size() / s, files.size() / p, 100 * (p / s - 1), 100 * (median(paired) - 1));
            double sc = median(Arrays.copyOfRange(singleCpu, 1, rounds + 1)), pc = median(Arrays.copyOfRange(sparkCpu, 1, rounds + 1));
            System.out.printf(Locale.ROOT, "median process CPU time: single process %.2f s, Spark %.2f s: Spark's extra CPU %+.1f%%%n",
                    sc, pc, 100 * (pc / sc - 1));
            scope.release();
        } finally {
            spark.stop();
        }
    }

    /** What ss2d classify does per batch: decode and preprocess on this thread, then one model call. */
    static double singleProcess(List<Path> files, VMambaModel model, TensorScope scope, int batch, double[] decodeSeconds)
            throws IOException {
        ImagePreprocessor pre = ImagePreprocessor.imagenet();
        long t0 = System.nanoTime(), decode = 0;
        for (int from = 0; from < files.size(); from += batch) {
            long d0 = System.nanoTime();
            List<RgbImage> decoded = new ArrayList<>();
            for (Path p : files.subList(from, Math.min(files.size(), from + batch))) decoded.add(ImageFiles.read(p));
            try (TensorScope s = scope.child("batch"); Tensor x = pre.tensor(s, decoded)) {
                decode += System.nanoTime() - d0;
                try (Tensor l = model.logits(s, x)) {
                    l.toFloatArray();
                }
            }
        }
        decodeSeconds[0] = decode / 1e9;
        return (System.nanoTime() - t0) / 1e9;
    }

    static double spark(SparkSession spark, Path images, ModelSpec spec) {
        long t0 = System.nanoTime();
        Dataset<Row> in = spark.read().format("binaryFile").load(images.toString());
        Ss2dSpark.classify(in, spec).write().format("noop").mode("overwrite").save();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** {@code n} PNGs of 200 to 500 pixels a side (photo-like sizes, so that the resize does real work). */
    static List<Path> generate(Path dir, int n) throws IOException {
        Files.createDirectories(dir);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path p = dir.resolve(String.format("b-%04d.png", i));
            int w = 200 + r.nextInt(301), h = 200 + r.nextInt(301);
            if (!Files.isRegularFile(p)) {
                java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) img.setRGB(x, y, ((x * 255 / w) << 16) | ((y * 255 / h) << 8) | r.nextInt(64));
                }
                javax.imageio.ImageIO.write(img, "png", p.toFile());
            }
            out.add(p);
        }
        try (Stream<Path> s = Files.list(dir)) {
            if (s.count() != n) throw new IOException(dir + " holds other files than the " + n + " generated images");
        }
        return out;
    }

    /** CPU time of the whole process (every thread: Spark's, the model's workers, the JIT, GC), in seconds. */
    static double cpuSeconds() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean s ? s.getProcessCpuTime() / 1e9 : Double.NaN;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
