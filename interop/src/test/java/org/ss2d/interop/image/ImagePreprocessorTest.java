package org.ss2d.interop.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The Java transform against PIL + torchvision on the fixtures of {@code interop/scripts/make_image_fixtures.py}:
 * byte-exact after resize and crop (JPEGs included: ImageIO's decoder gives libjpeg-turbo's bytes on
 * them), and the normalised tensor bit-exact.
 */
class ImagePreprocessorTest {
    static final Path DIR = Path.of("src/test/resources/images");

    record Fixture(String image, int resize, int crop, String interpolation, String expectedCrop, String expectedX) {
        @Override
        public String toString() {
            return image + " (resize " + resize + ", crop " + crop + ", " + interpolation + ")";
        }
    }

    static Stream<Fixture> fixtures() throws IOException {
        JsonNode m = new ObjectMapper().readTree(DIR.resolve("MANIFEST.json").toFile());
        List<Fixture> out = new ArrayList<>();
        for (JsonNode f : m.get("fixtures")) {
            out.add(new Fixture(f.get("image").asText(), f.get("resize").asInt(), f.get("crop").asInt(),
                    f.get("interpolation").asText(), f.get("expected_crop").asText(),
                    f.has("expected_x") ? f.get("expected_x").asText() : null));
        }
        assertTrue(out.size() >= 12, "fixtures: " + out.size());
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void agreesWithPilAndTorchvision(Fixture f) throws IOException {
        ImagePreprocessor pre = new ImagePreprocessor(f.resize(), f.crop(), Interpolation.of(f.interpolation()),
                ImagePreprocessor.IMAGENET_MEAN, ImagePreprocessor.IMAGENET_STD);
        RgbImage image = ImageFiles.read(DIR.resolve(f.image()));
        RgbImage got = pre.resizeAndCrop(image);
        RgbImage want = ImageFiles.read(DIR.resolve(f.expectedCrop()));
        assertEquals(want.width(), got.width(), f + ": width");
        assertEquals(want.height(), got.height(), f + ": height");
        int maxDiff = 0, differing = 0;
        for (int i = 0; i < want.rgb().length; i++) {
            int d = Math.abs((want.rgb()[i] & 0xFF) - (got.rgb()[i] & 0xFF));
            maxDiff = Math.max(maxDiff, d);
            if (d != 0) differing++;
        }
        System.out.printf("preprocess %s: %d of %d bytes differ from PIL + torchvision, max |diff| %d/255%n",
                f, differing, want.rgb().length, maxDiff);
        // The issue asks for 1/255; ImageIO decodes these JPEGs (4:2:0 and 4:4:4, baseline and progressive,
        // one with an Adobe RGB profile) exactly as PIL's libjpeg-turbo does, so every byte must agree.
        assertEquals(0, maxDiff, f + ": max |diff| " + maxDiff + "/255 in " + differing + " bytes");

        if (f.expectedX() != null) {
            float[] x = pre.apply(image);
            float[] wantX = readF32(DIR.resolve(f.expectedX()));
            assertEquals(wantX.length, x.length, f + ": tensor length");
            double worst = 0;
            for (int i = 0; i < x.length; i++) {
                assertTrue(Float.isFinite(x[i]), f + ": x[" + i + "] = " + x[i]);
                worst = Math.max(worst, Math.abs(x[i] - wantX[i]));
            }
            assertArrayEquals(wantX, x, f + ": ToTensor + Normalize must be torchvision's float32 arithmetic (max |diff| " + worst + ")");
        }
    }

    @Test
    void tensorStacksImagesIntoABatch() throws IOException {
        ImagePreprocessor pre = new ImagePreprocessor(40, 32, Interpolation.BICUBIC,
                ImagePreprocessor.IMAGENET_MEAN, ImagePreprocessor.IMAGENET_STD);
        RgbImage a = ImageFiles.read(DIR.resolve("synth_37x23_up.png"));
        RgbImage b = ImageFiles.read(DIR.resolve("synth_64x90_grey.png"));
        try (TensorScope scope = TensorScope.root("preprocess-test")) {
            Tensor x = pre.tensor(scope, List.of(a, b));
            assertArrayEquals(new long[] {2, 3, 32, 32}, x.shape());
            float[] all = x.toFloatArray();
            float[] first = pre.apply(a), second = pre.apply(b);
            for (int i = 0; i < first.length; i++) {
                assertEquals(first[i], all[i], "image 0 at " + i);
                assertEquals(second[i], all[first.length + i], "image 1 at " + i);
            }
            scope.release();
        }
    }

    @Test
    void torchvisionSizesAndPythonRounding() {
        ImagePreprocessor pre = ImagePreprocessor.imagenet();
        assertArrayEquals(new int[] {384, 256}, pre.resizedSize(600, 400));
        assertArrayEquals(new int[] {256, 384}, pre.resizedSize(400, 600));
        assertArrayEquals(new int[] {384, 256}, pre.resizedSize(451, 300));    // int(256 * 451 / 300) = 384.85 -> 384
        assertArrayEquals(new int[] {256, 256}, pre.resizedSize(7, 7));
        assertEquals(24, ImagePreprocessor.cropOffset(97, 50));   // round(23.5) = 24 (half to even)
        assertEquals(22, ImagePreprocessor.cropOffset(95, 50));   // round(22.5) = 22
        assertEquals(16, ImagePreprocessor.cropOffset(256, 224));
        assertEquals(-3, ImagePreprocessor.cropOffset(50, 56));   // padding (56 - 50) // 2 on the left/top
        assertEquals(-2, ImagePreprocessor.cropOffset(51, 56));   // 5 // 2 = 2 before, 3 after
    }

    @Test
    void badOptionsNameTheArgument() {
        float[] m = ImagePreprocessor.IMAGENET_MEAN, s = ImagePreprocessor.IMAGENET_STD;
        assertMessage("resize: ", () -> new ImagePreprocessor(0, 224, Interpolation.BICUBIC, m, s));
        assertMessage("crop: ", () -> new ImagePreprocessor(256, -1, Interpolation.BICUBIC, m, s));
        assertMessage("mean: expected 3 values", () -> new ImagePreprocessor(256, 224, Interpolation.BICUBIC, new float[2], s));
        assertMessage("std: expected finite positive", () -> new ImagePreprocessor(256, 224, Interpolation.BICUBIC, m, new float[] {1, 0, 1}));
        assertMessage("std: expected finite positive", () -> new ImagePreprocessor(256, 224, Interpolation.BICUBIC, m, new float[] {1, Float.NaN, 1}));
        assertMessage("interpolation: expected one of [bicubic, bilinear], found \"nearest\"", () -> Interpolation.of("nearest"));
        assertMessage("image: expected 6 bytes", () -> new RgbImage(2, 1, new byte[5]));
    }

    @Test
    void unreadableFilesAreIoErrorsNamingTheFile(@TempDir Path tmp) throws IOException {
        Path missing = tmp.resolve("missing.jpg");
        assertThrows(NoSuchFileException.class, () -> ImageFiles.read(missing));
        Path text = Files.writeString(tmp.resolve("notes.jpg"), "not an image");
        IOException e = assertThrows(IOException.class, () -> ImageFiles.read(text));
        assertTrue(e.getMessage().startsWith(text.toString()), e.getMessage());
        byte[] png = Files.readAllBytes(DIR.resolve("synth_37x23_up.png"));
        Path cut = Files.write(tmp.resolve("cut.png"), java.util.Arrays.copyOf(png, png.length / 2));
        IOException e2 = assertThrows(IOException.class, () -> ImageFiles.read(cut));
        assertTrue(e2.getMessage().startsWith(cut.toString()), e2.getMessage());
    }

    /** The bytes of a file (Spark's binaryFile content, say) decode exactly as the file does, for every fixture. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void bytesInMemoryDecodeAsTheFileDoes(Fixture f) throws IOException {
        Path p = DIR.resolve(f.image());
        RgbImage fromFile = ImageFiles.read(p);
        RgbImage fromBytes = ImageFiles.read(Files.readAllBytes(p), f.image());
        assertEquals(fromFile.width(), fromBytes.width(), f.image());
        assertEquals(fromFile.height(), fromBytes.height(), f.image());
        assertTrue(java.util.Arrays.equals(fromFile.rgb(), fromBytes.rgb()), f.image() + ": decoded samples differ");
    }

    @Test
    void unreadableBytesAreIoErrorsNamingTheLabel() throws IOException {
        byte[] png = Files.readAllBytes(DIR.resolve("synth_37x23_up.png"));
        for (byte[] bad : List.of(new byte[0], "not an image".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                java.util.Arrays.copyOf(png, png.length / 2))) {
            IOException e = assertThrows(IOException.class, () -> ImageFiles.read(bad, "row 7"));
            assertTrue(e.getMessage().startsWith("row 7: "), e.getMessage());
        }
    }

    /** A PNG whose header claims 50000 x 50000 pixels (7.5 GB of RGB) in 45 bytes is refused before decoding. */
    @Test
    void aHeaderClaimingMorePixelsThanPilOpensIsRefusedBeforeAllocating(@TempDir Path tmp) throws IOException {
        ByteBuffer ihdr = ByteBuffer.allocate(17).order(ByteOrder.BIG_ENDIAN);
        ihdr.put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(50_000).putInt(50_000)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(ihdr.array());
        ByteBuffer png = ByteBuffer.allocate(8 + 4 + 17 + 4 + 12).order(ByteOrder.BIG_ENDIAN);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        png.putInt(0).put("IEND".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(0xAE426082);
        IOException e = assertThrows(IOException.class, () -> ImageFiles.read(png.array(), "bomb.png"));
        assertTrue(e.getMessage().startsWith("bomb.png: 50000x50000 pixels, more than the 178956970"), e.getMessage());
        Path f = Files.write(tmp.resolve("bomb.png"), png.array());
        IOException e2 = assertThrows(IOException.class, () -> ImageFiles.read(f));
        assertTrue(e2.getMessage().contains("50000x50000 pixels"), e2.getMessage());
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable r) {
        Ss2dArgumentException e = assertThrows(Ss2dArgumentException.class, r);
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
    }

    private static float[] readF32(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }
}
