package org.ss2d.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.image.Interpolation;
import org.ss2d.interop.image.RgbImage;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spark.exec.Checks;
import org.ss2d.spark.exec.ExecutorCache;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * classify and features on a real local Spark session over generated images, against the single-process
 * path of {@code ss2d classify} (decode, {@link ImagePreprocessor}, {@link VMambaModel#logits}) on the CPU
 * backend: equal bit for bit.
 */
class ClassifyOnSparkTest {
    static final int IMAGES = 200;
    static SparkSession spark;
    @TempDir
    static Path dir;
    static Path images;
    static Path weights;
    /**
     * VMamba's evaluation transform at a smaller size (resize 73, crop 64: the same code path as 256/224,
     * a twelfth of the pixels) keeps 200 images within the module's time budget; the features test runs
     * the default 256/224.
     */
    static final ImagePreprocessor PRE = new ImagePreprocessor(73, 64, Interpolation.BICUBIC,
            ImagePreprocessor.IMAGENET_MEAN, ImagePreprocessor.IMAGENET_STD);
    /** Single-process logits per image file name, batches of 8 in name order. */
    static Map<String, float[]> expected = new HashMap<>();

    @BeforeAll
    static void setUp() throws IOException {
        images = dir.resolve("images");
        List<Path> files = SparkFixtures.images(images, IMAGES, 17);
        weights = SparkFixtures.checkpoint(dir, SparkFixtures.SMALL, 5);
        ImagePreprocessor pre = PRE;
        try (SafeTensorsFile f = SafeTensorsFile.open(weights); TensorScope scope = TensorScope.root("single")) {
            VMambaWeights w = Checks.weights(f, weights.toString(), null);
            try (VMambaModel m = VMambaModel.of(Ss2d.on("cpu"), w)) {
                for (int from = 0; from < files.size(); from += 8) {
                    List<Path> chunk = files.subList(from, Math.min(files.size(), from + 8));
                    List<RgbImage> decoded = new ArrayList<>();
                    for (Path p : chunk) decoded.add(ImageFiles.read(p));
                    try (TensorScope s = scope.child("batch"); Tensor x = pre.tensor(s, decoded); Tensor l = m.logits(s, x)) {
                        float[] all = l.toFloatArray();
                        int c = (int) l.dim(1);
                        for (int i = 0; i < chunk.size(); i++) {
                            expected.put(chunk.get(i).getFileName().toString(), java.util.Arrays.copyOfRange(all, i * c, (i + 1) * c));
                        }
                    }
                }
            }
        }
        spark = SparkFixtures.localSession();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
        ExecutorCache.clear();
    }

    static String name(Row r) {
        return Path.of(URI.create(r.getString(r.fieldIndex("path")))).getFileName().toString();
    }

    static float[] floats(Row r, String column) {
        List<Float> l = r.getList(r.fieldIndex(column));
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) f[i] = l.get(i);
        return f;
    }

    static ModelSpec spec() {
        return ModelSpec.of(weights.toString()).withBackend("cpu").withThreads(1).withPreprocessing(PRE.resize(), PRE.crop());
    }

    /** Each row's logits against the single-process ones, bit for bit; returns the rows by file name. */
    static Map<String, Row> checkLogits(Dataset<Row> out, int expectedRows, int expectedCompared) {
        Map<String, Row> byName = new LinkedHashMap<>();
        for (Row r : out.drop("content").collectAsList()) byName.put(name(r), r);
        assertEquals(expectedRows, byName.size(), "rows");
        int compared = 0;
        for (Map.Entry<String, Row> e : byName.entrySet()) {
            float[] want = expected.get(e.getKey());
            if (want == null) continue;
            Row r = e.getValue();
            assertNull(r.get(r.fieldIndex("error")), e.getKey());
            float[] got = floats(r, "logits");
            assertEquals(want.length, got.length, e.getKey() + " classes");
            for (int i = 0; i < want.length; i++) {
                assertTrue(Float.isFinite(got[i]), e.getKey() + " logit " + i + " is " + got[i]);
                if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                    fail("cpu, float32, " + e.getKey() + ": logit " + i + " is " + got[i] + " on Spark, " + want[i] + " in one process");
                }
            }
            compared++;
        }
        assertEquals(expectedCompared, compared, "images compared");
        return byName;
    }

    @Test
    void logitsOfTwoHundredImagesEqualTheSingleProcessPathBitForBit() {
        ExecutorCache.clear(); // what other tests loaded
        Dataset<Row> df = spark.read().format("binaryFile").load(images.toString());
        Dataset<Row> out = Ss2dSpark.classify(df.repartition(4), spec().withBatchSize(5));
        Map<String, Row> rows = checkLogits(out, IMAGES, IMAGES);
        // top-k is the logits' order, probabilities a softmax: check one row by hand.
        Row r = rows.get("img-000.png");
        float[] l = floats(r, "logits");
        List<Integer> top = r.getList(r.fieldIndex("top_classes"));
        assertEquals(5, top.size());
        for (int k = 1; k < top.size(); k++) assertTrue(l[top.get(k - 1)] >= l[top.get(k)], "top-k order " + top);
        List<Double> probs = r.getList(r.fieldIndex("top_probs"));
        double sum = 0;
        for (float v : l) sum += Math.exp((double) v - l[top.getFirst()]);
        assertEquals(1 / sum, probs.getFirst(), 1e-12, "softmax of the best class");
        assertEquals(1, ExecutorCache.size(), "one model loaded in this executor JVM for 4 partitions on 2 task slots");
    }

    @Test
    void aRetriedOrRebatchedJobGivesTheSameLogits() {
        // Other partitions and batch sizes (what a retry on another executor may see): the same bits.
        Dataset<Row> df = spark.read().format("binaryFile").load(images.toString()).limit(24);
        checkLogits(Ss2dSpark.classify(df.repartition(3), spec().withBatchSize(16).withTopK(0)), 24, 24);
        checkLogits(Ss2dSpark.classify(df.coalesce(1), spec().withBatchSize(1).withTopK(0)), 24, 24);
    }

    @Test
    void corruptImagesGetAnErrorAndTheOthersTheirLogits() throws IOException {
        Path bad = dir.resolve("mixed");
        Files.createDirectories(bad);
        for (int i = 0; i < 6; i++) Files.copy(images.resolve(String.format("img-%03d.%s", i, i % 4 == 1 ? "jpg" : "png")),
                bad.resolve(String.format("img-%03d.%s", i, i % 4 == 1 ? "jpg" : "png")));
        byte[] jpg = Files.readAllBytes(images.resolve("img-001.jpg"));
        Files.write(bad.resolve("truncated.jpg"), java.util.Arrays.copyOf(jpg, jpg.length / 3));
        Files.write(bad.resolve("noise.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 1, 2, 3, 4, 5});
        Files.writeString(bad.resolve("text.jpg"), "not an image at all");
        Files.write(bad.resolve("bomb.png"), bombPng());
        Dataset<Row> files = spark.read().format("binaryFile").load(bad.toString());
        // binaryFile skips empty files: a row without bytes is made by hand.
        Dataset<Row> df = files.union(spark.createDataFrame(List.of(RowFactory.create(bad.resolve("null.png").toUri().toString(),
                new java.sql.Timestamp(0), 0L, null)), files.schema()));
        ModelSpec spec = spec().withBatchSize(4);
        Map<String, Row> rows = checkLogits(Ss2dSpark.classify(df, spec), 11, 6);
        for (String b : List.of("truncated.jpg", "noise.png", "null.png", "text.jpg", "bomb.png")) {
            Row r = rows.get(b);
            assertNull(r.get(r.fieldIndex("logits")), b + " logits");
            assertNull(r.get(r.fieldIndex("top_classes")), b + " top_classes");
            String err = r.getString(r.fieldIndex("error"));
            assertNotNull(err, b + " error");
            assertTrue(err.contains(b), b + ": the error names the file: " + err);
        }
        // By option, the first bad image fails the job instead (and the executor JVM, this one, lives on).
        // Which bad row a task meets first depends on task scheduling: the job fails on one of them, named.
        Exception e = assertThrows(Exception.class, () -> Ss2dSpark.classify(df, spec.withFailOnError(true)).collectAsList());
        String root = rootMessage(e);
        assertTrue(List.of("truncated.jpg", "noise.png", "null.png", "text.jpg", "bomb.png").stream()
                .anyMatch(b -> root.contains("mixed/" + b)), root); // file:/... from binaryFile, file:///... by hand
        assertEquals(11, Ss2dSpark.classify(df, spec).count(), "the session still runs jobs");
    }

    @Test
    void featuresAreTheStageMapsOfTheSingleProcessPath() throws IOException {
        List<Path> files = List.of(images.resolve("img-002.png"), images.resolve("img-005.jpg"), images.resolve("img-010.png"));
        Dataset<Row> df = spark.read().format("binaryFile").load(files.stream().map(Path::toString).toArray(String[]::new));
        List<Row> rows = Ss2dSpark.features(df, ModelSpec.of(weights.toString()).withBackend("cpu").withBatchSize(2))
                .drop("content").collectAsList();
        assertEquals(3, rows.size());
        ImagePreprocessor pre = ImagePreprocessor.imagenet();
        try (SafeTensorsFile f = SafeTensorsFile.open(weights); TensorScope scope = TensorScope.root("single");
             VMambaModel m = VMambaModel.of(Ss2d.on("cpu"), Checks.weights(f, "w", null))) {
            for (Row r : rows) {
                assertNull(r.get(r.fieldIndex("error")));
                Tensor x = pre.tensor(scope, List.of(ImageFiles.read(images.resolve(name(r)))));
                List<Tensor> maps = m.features(scope, x);
                for (int st = 0; st < 4; st++) {
                    float[] want = maps.get(st).toFloatArray();
                    float[] got = floats(r, "features_" + st);
                    List<Integer> shape = r.getList(r.fieldIndex("features_" + st + "_shape"));
                    assertEquals(List.of((int) maps.get(st).dim(1), (int) maps.get(st).dim(2), (int) maps.get(st).dim(3)), shape);
                    assertEquals(want.length, got.length);
                    for (int i = 0; i < want.length; i++) {
                        if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]) || Float.isNaN(got[i])) {
                            fail("cpu, float32, " + name(r) + " stage " + st + " element " + i + ": " + got[i] + " vs " + want[i]);
                        }
                    }
                }
            }
            scope.release();
        }
    }

    /** A 45-byte PNG whose header claims 50000 x 50000 RGB pixels: refused before any pixel is allocated. */
    static byte[] bombPng() {
        java.nio.ByteBuffer ihdr = java.nio.ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(50_000).putInt(50_000)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(ihdr.array());
        java.nio.ByteBuffer png = java.nio.ByteBuffer.allocate(45);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        png.putInt(0).put("IEND".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(0xAE426082);
        return png.array();
    }

    /**
     * A released configuration (VMamba-T[s1l8], seeded random weights, checked against its name) at the
     * default 256/224 transform on three images: the same bits on Spark as in one process.
     */
    @Test
    void aReleasedConfigurationGivesTheSingleProcessLogits() throws IOException {
        VMambaConfig tiny = VMambaConfig.named("vmamba_tiny_s1l8");
        Path w = SparkFixtures.checkpoint(dir, tiny, 3);
        List<Path> files = List.of(images.resolve("img-003.png"), images.resolve("img-004.png"), images.resolve("img-009.jpg"));
        Map<String, float[]> want = new HashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(w); TensorScope scope = TensorScope.root("tiny");
             VMambaModel m = VMambaModel.of(Ss2d.on("cpu"), Checks.weights(f, w.toString(), "vmamba_tiny_s1l8"))) {
            List<RgbImage> decoded = new ArrayList<>();
            for (Path p : files) decoded.add(ImageFiles.read(p));
            float[] all = m.logits(scope, ImagePreprocessor.imagenet().tensor(scope, decoded)).toFloatArray();
            for (int i = 0; i < files.size(); i++) want.put(files.get(i).getFileName().toString(), java.util.Arrays.copyOfRange(all, i * 1000, (i + 1) * 1000));
            scope.release();
        }
        Dataset<Row> df = spark.read().format("binaryFile").load(files.stream().map(Path::toString).toArray(String[]::new));
        List<Row> rows = Ss2dSpark.classify(df, ModelSpec.of(w.toString()).withModel("vmamba_tiny_s1l8").withBackend("cpu")
                .withBatchSize(2)).drop("content").collectAsList();
        assertEquals(3, rows.size());
        for (Row r : rows) {
            assertNull(r.get(r.fieldIndex("error")), name(r));
            float[] got = floats(r, "logits"), e = want.get(name(r));
            assertEquals(1000, got.length);
            for (int i = 0; i < got.length; i++) {
                if (Float.isNaN(got[i]) || Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(e[i])) {
                    fail("cpu, float32, vmamba_tiny_s1l8 " + name(r) + " logit " + i + ": " + got[i] + " on Spark, " + e[i] + " in one process");
                }
            }
        }
        Files.delete(w);
    }

    /** Preprocessed tensors in array<float> + shape columns classify as their images do; a wrong shape is that row's error. */
    @Test
    void tensorRowsGiveTheLogitsOfTheirImages() throws IOException {
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
                .add("path", org.apache.spark.sql.types.DataTypes.StringType)
                .add("x", org.apache.spark.sql.types.DataTypes.createArrayType(org.apache.spark.sql.types.DataTypes.FloatType, false))
                .add("x_shape", org.apache.spark.sql.types.DataTypes.createArrayType(org.apache.spark.sql.types.DataTypes.LongType, false));
        List<Row> in = new ArrayList<>();
        for (String n : List.of("img-006.png", "img-007.png", "img-013.jpg")) {
            in.add(RowFactory.create(images.resolve(n).toUri().toString(), PRE.apply(ImageFiles.read(images.resolve(n))),
                    new long[] {3, PRE.crop(), PRE.crop()}));
        }
        in.add(RowFactory.create(images.resolve("wrong.png").toUri().toString(), new float[3 * 64 * 63], new long[] {3, 64, 64}));
        in.add(RowFactory.create(images.resolve("grey.png").toUri().toString(), new float[64 * 64], new long[] {1, 64, 64}));
        Dataset<Row> df = spark.createDataFrame(in, schema);
        Map<String, Row> rows = checkLogits(Ss2dSpark.classify(df, spec().withTensors("x", "x_shape").withBatchSize(2)), 5, 3);
        Row wrong = rows.get("wrong.png");
        assertNull(wrong.get(wrong.fieldIndex("logits")));
        assertTrue(wrong.getString(wrong.fieldIndex("error")).startsWith("x: expected 12288 values (shape [3, 64, 64]), found 12096"), wrong.getString(wrong.fieldIndex("error")));
        Row grey = rows.get("grey.png");
        assertTrue(grey.getString(grey.fieldIndex("error")).startsWith("x_shape: expected (3, H, W), found [1, 64, 64]"),
                grey.getString(grey.fieldIndex("error")));
    }

    static String rootMessage(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) sb.append(t.getMessage()).append(" | ");
        return sb.toString();
    }
}
