package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.safetensors.SafeTensorsWriter;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * {@code ss2d classify} end to end on seeded VMamba-T[s1l8] weights written as safetensors: the printed
 * top-5 agree with the model API on the same preprocessed images; bad input is one line, exit 2.
 */
class ClassifyCommandTest {
    static final Path IMAGES = Path.of("..", "interop", "src", "test", "resources", "images");
    static final Path A = IMAGES.resolve("chelsea_q90.jpg"), B = IMAGES.resolve("synth_97x97_noresize.png");

    @TempDir
    static Path dir;
    static Path weights;
    static TensorScope scope;
    static VMambaWeights w;

    @BeforeAll
    static void writeWeights() {
        scope = TensorScope.root("classify-test");
        w = VMambaRandomWeights.of(scope, VMambaConfig.named("vmamba_tiny_s1l8"), 7);
        weights = dir.resolve("tiny.safetensors");
        SafeTensorsWriter.write(weights, w.params(), Map.of("note", "seeded random weights"));
    }

    @AfterAll
    static void free() {
        scope.release();
    }

    @Test
    void printsTheModelsTopFiveWithSoftmaxProbabilities() throws IOException {
        MainTest.Result r = MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", weights.toString(),
                "--backend", "cpu", "--batch", "1", A.toString(), B.toString());
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2 * 6 + 1, lines.size(), r.out());
        assertTrue(lines.getLast().contains("vmamba_tiny_s1l8 on cpu, 2 images"), lines.getLast());
        ImagePreprocessor pre = ImagePreprocessor.imagenet();
        try (TensorScope s = scope.child("check"); VMambaModel m = VMambaModel.of(Ss2d.on("cpu"), w)) {
            Tensor x = pre.tensor(s, List.of(ImageFiles.read(A), ImageFiles.read(B)));
            float[] logits = m.logits(s, x).toFloatArray();
            for (int img = 0; img < 2; img++) {
                assertEquals((img == 0 ? A : B).toString(), lines.get(img * 6));
                int best = 0;
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int c = 0; c < 1000; c++) if (logits[img * 1000 + c] > max) { max = logits[img * 1000 + c]; best = c; }
                for (int c = 0; c < 1000; c++) sum += Math.exp(logits[img * 1000 + c] - max);
                String[] top1 = lines.get(img * 6 + 1).trim().split("\\s+");
                assertEquals("1.", top1[0]);
                assertEquals(best, Integer.parseInt(top1[2]), "top-1 class of image " + img);
                assertEquals(1 / sum, Double.parseDouble(top1[1]), 1e-4, "top-1 probability of image " + img);
                double prev = 1;
                for (int k = 1; k <= 5; k++) {
                    double p = Double.parseDouble(lines.get(img * 6 + k).trim().split("\\s+")[1]);
                    assertTrue(p <= prev && p > 0, "probabilities sorted and positive: " + lines.get(img * 6 + k));
                    prev = p;
                }
            }
            s.release();
        }
    }

    @Test
    void labelsNameTheClasses() throws IOException {
        Path labels = dir.resolve("labels.txt");
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < 1000; c++) sb.append("class-").append(c).append('\n');
        Files.writeString(labels, sb);
        MainTest.Result r = MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", weights.toString(),
                "--top", "2", "--labels", labels.toString(), A.toString());
        assertEquals(0, r.status(), r.err());
        String[] top1 = r.out().lines().toList().get(1).trim().split("\\s+");
        assertEquals("class-" + top1[2], top1[3]);
    }

    @Test
    void badInputIsOneLineAndExitTwo() throws IOException {
        String wf = weights.toString();
        assertRejected(MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", wf, "missing.jpg"), "missing.jpg");
        assertRejected(MainTest.ss2d("classify", "--model", "vanilla_vmamba_tiny", "--weights", wf, A.toString()),
                "--weights", "not --model vanilla_vmamba_tiny");
        assertRejected(MainTest.ss2d("classify", "--model", "vmamba_huge", "--weights", wf, A.toString()), "vmamba_huge");
        Path notWeights = Files.writeString(dir.resolve("junk.safetensors"), "junk");
        assertRejected(MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", notWeights.toString(), A.toString()),
                "--weights");
        Path shortLabels = Files.writeString(dir.resolve("short.txt"), "a\nb\n");
        assertRejected(MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", wf, "--labels",
                shortLabels.toString(), A.toString()), "--labels", "1000");
        Path notImage = Files.writeString(dir.resolve("notes.png"), "not an image");
        assertRejected(MainTest.ss2d("classify", "--model", "vmamba_tiny_s1l8", "--weights", wf, notImage.toString()), "notes.png");
        assertRejected(MainTest.ss2d("bench", "model", "--dtype", "int8"), "--dtype", "int8");
        assertRejected(MainTest.ss2d("bench", "block", "--dtype", "float64"), "--dtype", "float64");
        assertRejected(MainTest.ss2d("bench", "model", "--model", "vmamba_huge"), "vmamba_huge");
        assertRejected(MainTest.ss2d("bench", "model", "--batch", "0"), "--batch");
    }

    private static void assertRejected(MainTest.Result r, String... details) {
        assertEquals(2, r.status(), "exit status; stderr: " + r.err());
        assertEquals(1, r.errLines().size(), "one line on stderr, got: " + r.err());
        for (String d : details) assertTrue(r.err().contains(d), "'" + d + "' in: " + r.err());
    }
}
