package org.ss2d.spark;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;
import org.ss2d.interop.safetensors.SafeTensorsWriter;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.TensorScope;

/** A local Spark session, generated images and a random-weight checkpoint for the module's tests. */
final class SparkFixtures {
    private SparkFixtures() {}

    /** A small VMamba (v2 stem, v05_noz blocks, MLP) that keeps the tests short: 10 classes. */
    static final VMambaConfig SMALL = VMambaConfig.named("vmamba_tiny_s1l8").withDims(8, 16, 32, 64)
            .withDepths(1, 1, 2, 1).withNumClasses(10);

    /** A real local Spark session with two task slots (one executor JVM: this one). */
    static SparkSession localSession() {
        return SparkSession.builder().master("local[2]").appName("ss2d-spark tests")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate();
    }

    /** Seeded random-weight checkpoint of {@code config}, written as safetensors. */
    static Path checkpoint(Path dir, VMambaConfig config, long seed) {
        Path p = dir.resolve(config.name() + "-" + seed + ".safetensors");
        try (TensorScope s = TensorScope.root("checkpoint")) {
            VMambaWeights w = VMambaRandomWeights.of(s, config, seed);
            SafeTensorsWriter.write(p, w.params(), Map.of());
            s.release();
        }
        return p;
    }

    /**
     * {@code n} images of random sizes (24 to 120 pixels a side), smooth colour fields with noise: PNGs
     * (RGB and grey) and JPEGs, named {@code img-000.png} ... so that their order is their name's.
     */
    static List<Path> images(Path dir, int n, long seed) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom r = new SplittableRandom(seed);
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int w = 24 + r.nextInt(97), h = 24 + r.nextInt(97);
            boolean grey = i % 7 == 3;
            boolean jpeg = i % 4 == 1;
            BufferedImage img = new BufferedImage(w, h, grey ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
            int r0 = r.nextInt(256), g0 = r.nextInt(256), b0 = r.nextInt(256);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int red = clamp(r0 + 100 * x / w + r.nextInt(31) - 15);
                    int green = clamp(g0 + 100 * y / h + r.nextInt(31) - 15);
                    int blue = clamp(b0 - 80 * (x + y) / (w + h) + r.nextInt(31) - 15);
                    img.setRGB(x, y, (red << 16) | (green << 8) | blue);
                }
            }
            Path p = dir.resolve(String.format("img-%03d.%s", i, jpeg ? "jpg" : "png"));
            if (!ImageIO.write(img, jpeg ? "jpeg" : "png", p.toFile())) throw new IOException("no writer for " + p);
            out.add(p);
        }
        return out;
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }
}
