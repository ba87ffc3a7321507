package org.ss2d.spark.cli;

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
import org.ss2d.validate.Ss2dArgumentException;

/** The Spark side of {@code ss2d spark-classify}: read, classify, write, count. */
final class SparkClassifyJob {
    private SparkClassifyJob() {}

    record Options(String model, String weights, String input, String output, String master, String backend,
                   int batch, int top, int threads, int partitions, boolean failOnError) {}

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
            Dataset<Row> in = read(spark, o.input());
            if (o.partitions() > 0) in = in.repartition(o.partitions());
            ModelSpec spec = ModelSpec.of(o.weights()).withModel(o.model()).withBackend(o.backend()).withBatchSize(o.batch())
                    .withTopK(o.top()).withThreads(o.threads()).withFailOnError(o.failOnError());
            if (!List.of(in.columns()).contains("content")) spec = spec.withTensors("x", "x_shape");
            Dataset<Row> out = Ss2dSpark.classify(in, spec);
            List<Column> keep = new ArrayList<>();
            for (String c : out.columns()) if (!c.equals("content") && !c.equals("x")) keep.add(functions.col(c));
            out.select(keep.toArray(Column[]::new)).write().parquet(o.output());
            double s = (System.nanoTime() - t0) / 1e9;
            Dataset<Row> written = spark.read().parquet(o.output());
            long rows = written.count();
            long errors = written.filter(functions.col("error").isNotNull()).count();
            return String.format(Locale.ROOT, "spark-classify: %d row%s (%d with an error) on %s in %.1f s (%.1f rows/s) -> %s",
                    rows, rows == 1 ? "" : "s", errors, spark.sparkContext().master(), s, rows / s, o.output());
        } finally {
            spark.stop();
        }
    }

    /** A Parquet table (a .parquet path, or a folder holding .parquet files), else a folder of images. */
    static Dataset<Row> read(SparkSession spark, String input) {
        if (isParquet(input)) return spark.read().parquet(input);
        Dataset<Row> images = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", IMAGES).load(input);
        if (images.isEmpty()) {
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
