package org.ss2d.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.spark.cli.SparkClassifyCommand;
import org.ss2d.spark.exec.Checks;
import org.ss2d.spark.exec.ExecutorCache;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import picocli.CommandLine;

/**
 * {@code ss2d spark-classify} as the launcher runs it (the command in this JVM, Spark local[2]): the Parquet
 * it writes holds the single-process logits, bit for bit; bad arguments are one line and exit 2 before
 * Spark starts. The fixtures stay in target/spark-example (images/ and small.safetensors) so that the
 * README's commands can be tried on them after a build.
 */
class SparkClassifyCommandTest {
    static final Path DIR = Path.of("target", "spark-example");
    static Path images;
    static Path weights;

    @BeforeAll
    static void setUp() throws IOException {
        images = DIR.resolve("images");
        if (!Files.isDirectory(images) || Files.list(images).count() != 24) {
            SparkFixtures.images(images, 24, 31);
        }
        weights = DIR.resolve("small.safetensors");
        if (!Files.isRegularFile(weights)) Files.move(SparkFixtures.checkpoint(DIR, SparkFixtures.SMALL, 9), weights);
    }

    @AfterAll
    static void tearDown() {
        ExecutorCache.clear();
    }

    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new SparkClassifyCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            c.getErr().println("ss2d: " + ex.getMessage());
            return ex instanceof org.ss2d.validate.Ss2dArgumentException ? 2 : 1;
        });
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    @Test
    void writesTheSingleProcessLogitsAsParquet() throws IOException {
        Path output = DIR.resolve("out-" + System.nanoTime() + ".parquet");
        Result r = run("--weights", weights.toString(), "--input", images.toString(), "--output", output.toString(),
                "--master", "local[2]", "--backend", "cpu", "--batch", "3", "--top", "3");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("spark-classify: 24 rows (0 with an error) on local[2]"), r.out());
        // The folder is split by files, not bytes: batches of 3 on 2 task slots make 8 partitions of 3 files,
        // and the executor's (this JVM's) stage times account for every row and task.
        assertTrue(r.out().contains("split: 24 files by 3 (8 partitions for 2 task slots), 8 output files; tasks per backend {cpu=8}"),
                r.out());
        assertTrue(r.out().contains("\nspark-classify stages: 24 rows in 8 batches, 8 tasks on "), r.out());
        assertTrue(r.out().contains("\nspark-classify json: {\"rows\":24,\"batches\":8,\"tasks\":8,"), r.out());
        SparkSession spark = SparkFixtures.localSession();
        try (SafeTensorsFile f = SafeTensorsFile.open(weights); TensorScope scope = TensorScope.root("single");
             VMambaModel m = VMambaModel.of(Ss2d.on("cpu"), Checks.weights(f, "w", null))) {
            List<Row> rows = spark.read().parquet(output.toString()).collectAsList();
            assertEquals(24, rows.size());
            assertFalse(List.of(rows.getFirst().schema().fieldNames()).contains("content"), "content is not written");
            List<String> names = new ArrayList<>();
            for (Row row : rows) {
                String name = ClassifyOnSparkTest.name(row);
                names.add(name);
                assertNull(row.get(row.fieldIndex("error")), name);
                Tensor x = ImagePreprocessor.imagenet().tensor(scope, List.of(ImageFiles.read(images.resolve(name))));
                float[] want = m.logits(scope, x).toFloatArray();
                float[] got = ClassifyOnSparkTest.floats(row, "logits");
                assertEquals(want.length, got.length);
                for (int i = 0; i < want.length; i++) {
                    if (Float.isNaN(got[i]) || Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                        fail("cpu, float32, spark-classify " + name + " logit " + i + ": " + got[i] + " vs " + want[i]);
                    }
                }
                assertEquals(3, row.getList(row.fieldIndex("top_classes")).size());
            }
            assertEquals(24, names.stream().distinct().count());
            scope.release();
        } finally {
            spark.stop();
            try (java.util.stream.Stream<Path> s = Files.walk(output)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void badArgumentsAreOneLineAndExitTwoWithNoOutput() {
        Path output = DIR.resolve("never.parquet");
        String[][] cases = {
            {"--weights", "missing.safetensors", "--input", images.toString(), "--output", output.toString()},
            {"--weights", weights.toString(), "--input", "no/such/dir", "--output", output.toString()},
            {"--weights", weights.toString(), "--input", images.toString(), "--output", images.toString()},
            {"--weights", weights.toString(), "--input", images.toString(), "--output", output.toString(), "--batch", "0"},
            {"--weights", weights.toString(), "--input", images.toString(), "--output", output.toString(), "--model", "vmamba_huge"},
            {"--weights", weights.toString(), "--input", images.toString(), "--output", output.toString(), "--model",
                "vmamba_tiny_s1l8", "--master", "local[1]"},
        };
        String[] starts = {"ss2d: --weights: expected", "ss2d: --input: expected", "ss2d: --output: expected",
            "ss2d: --batch: expected", "ss2d: model: expected one of", "ss2d: weights: expected"};
        for (int i = 0; i < cases.length; i++) {
            Result r = run(cases[i]);
            assertEquals(2, r.status(), String.join(" ", cases[i]) + ": " + r.err());
            assertTrue(r.err().startsWith(starts[i]), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(Files.exists(output), "no output for " + String.join(" ", cases[i]));
        }
    }
}
