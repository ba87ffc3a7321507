package org.ss2d.interop.image;

import java.util.Objects;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * An 8-bit RGB image, row-major and interleaved: {@code rgb[(y * width + x) * 3 + c]}, the layout of a
 * PIL image in mode {@code RGB} (and of a case file's {@code image (H, W, 3) uint8} column).
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        Objects.requireNonNull(rgb, "rgb");
        if (width < 1 || height < 1) {
            throw new Ss2dArgumentException("image", "at least 1x1 pixels", width + "x" + height, null);
        }
        if (rgb.length != (long) width * height * 3) {
            throw new Ss2dArgumentException("image", (long) width * height * 3 + " bytes for " + width + "x" + height + " RGB",
                    String.valueOf(rgb.length), null);
        }
    }

    /** Channel {@code c} of pixel {@code (x, y)}, 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }
}
