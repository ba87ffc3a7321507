package org.ss2d.interop.image;

import java.util.Arrays;
import java.util.List;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * VMamba's evaluation transform, as torchvision runs it on a PIL image:
 * {@code Resize(resize, interpolation)} (shorter side to {@code resize}, the longer one to
 * {@code int(resize * long / short)}, PIL's antialiased resampling), {@code CenterCrop(crop)} (offsets
 * {@code round((size - crop) / 2)} with Python's round-half-to-even; zero padding where the crop is
 * larger than the image), {@code ToTensor()} ({@code v / 255} in float32) and {@code Normalize(mean, std)}
 * ({@code (x - mean) / std} in float32). The bytes after the resize are PIL's (see {@link PilResample}).
 *
 * <pre>{@code
 * ImagePreprocessor pre = ImagePreprocessor.imagenet();        // 256, 224, bicubic, ImageNet mean/std
 * Tensor x = pre.tensor(scope, List.of(ImageFiles.read(Path.of("cat.jpg"))));   // (1, 3, 224, 224)
 * }</pre>
 */
public record ImagePreprocessor(int resize, int crop, Interpolation interpolation, float[] mean, float[] std) {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    public ImagePreprocessor {
        if (resize < 1) throw new Ss2dArgumentException("resize", "a shorter side >= 1", String.valueOf(resize), null);
        if (crop < 1) throw new Ss2dArgumentException("crop", "a crop size >= 1", String.valueOf(crop), null);
        if (interpolation == null) throw new Ss2dArgumentException("interpolation", "bicubic or bilinear", "null", null);
        mean = checkTriple("mean", mean, false);
        std = checkTriple("std", std, true);
    }

    /** VMamba's ImageNet evaluation: resize 256, crop 224, bicubic, ImageNet mean and std. */
    public static ImagePreprocessor imagenet() {
        return new ImagePreprocessor(256, 224, Interpolation.BICUBIC, IMAGENET_MEAN, IMAGENET_STD);
    }

    private static float[] checkTriple(String name, float[] v, boolean positive) {
        if (v == null || v.length != 3) {
            throw new Ss2dArgumentException(name, "3 values (R, G, B)",
                    v == null ? "none" : v.length + " " + Arrays.toString(v), null);
        }
        for (float f : v) {
            if (!Float.isFinite(f) || (positive && !(f > 0))) {
                throw new Ss2dArgumentException(name, "finite" + (positive ? " positive" : "") + " values",
                        Arrays.toString(v), null);
            }
        }
        return v.clone();
    }

    /** torchvision's Resize output size for an int size: {@code (width, height)}. */
    public int[] resizedSize(int width, int height) {
        int shorter = Math.min(width, height), longer = Math.max(width, height);
        int newLonger = (int) ((double) ((long) resize * longer) / shorter);
        return width <= height ? new int[] {resize, newLonger} : new int[] {newLonger, resize};
    }

    /** The resized and centre-cropped 8-bit image (before ToTensor). */
    public RgbImage resizeAndCrop(RgbImage image) {
        int[] size = resizedSize(image.width(), image.height());
        RgbImage r = PilResample.resize(image, size[0], size[1], interpolation);
        return centerCrop(r, crop);
    }

    static RgbImage centerCrop(RgbImage img, int crop) {
        int left = cropOffset(img.width(), crop), top = cropOffset(img.height(), crop);
        if (left == 0 && top == 0 && img.width() == crop && img.height() == crop) return img;
        byte[] out = new byte[crop * crop * 3];   // zeros where the crop overhangs (torchvision pads with 0)
        for (int y = 0; y < crop; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= img.height()) continue;
            for (int x = 0; x < crop; x++) {
                int sx = x + left;
                if (sx < 0 || sx >= img.width()) continue;
                System.arraycopy(img.rgb(), (sy * img.width() + sx) * 3, out, (y * crop + x) * 3, 3);
            }
        }
        return new RgbImage(crop, crop, out);
    }

    /**
     * Source offset of the crop along one axis: {@code round((size - crop) / 2)} (half to even, as
     * Python's round), or minus the left/top padding {@code (crop - size) // 2} when the crop is larger.
     */
    static int cropOffset(int size, int crop) {
        return crop > size ? -((crop - size) / 2) : (int) Math.rint((size - crop) / 2.0);
    }

    /** ToTensor and Normalize of a crop: {@code (3, crop, crop)} float32 values into {@code out} at {@code offset}. */
    void normalize(RgbImage cropped, float[] out, int offset) {
        int n = crop * crop;
        byte[] rgb = cropped.rgb();
        for (int c = 0; c < 3; c++) {
            float m = mean[c], s = std[c];
            for (int i = 0; i < n; i++) {
                float x = (rgb[i * 3 + c] & 0xFF) / 255f;
                out[offset + c * n + i] = (x - m) / s;
            }
        }
    }

    /** The transform of one image as {@code float32 (3, crop, crop)} values, channel-major. */
    public float[] apply(RgbImage image) {
        float[] out = new float[3 * crop * crop];
        normalize(resizeAndCrop(image), out, 0);
        return out;
    }

    /** A batch {@code (images.size(), 3, crop, crop)} float32 tensor owned by {@code scope}. */
    public Tensor tensor(TensorScope scope, List<RgbImage> images) {
        if (images.isEmpty()) throw new Ss2dArgumentException("images", "at least one image", "none", null);
        int per = 3 * crop * crop;
        float[] all = new float[Math.multiplyExact(per, images.size())];
        for (int i = 0; i < images.size(); i++) {
            normalize(resizeAndCrop(images.get(i)), all, i * per);
        }
        Tensor t = scope.allocate("x", DType.F32, images.size(), 3, crop, crop);
        return t.copyFrom(all);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImagePreprocessor p && p.resize == resize && p.crop == crop
                && p.interpolation == interpolation && Arrays.equals(p.mean, mean) && Arrays.equals(p.std, std);
    }

    @Override
    public int hashCode() {
        return ((resize * 31 + crop) * 31 + interpolation.hashCode()) * 31 + Arrays.hashCode(mean) * 17 + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "preprocess(resize " + resize + ", crop " + crop + ", " + interpolation + ", mean "
                + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ")";
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }
}
