package org.ss2d.interop.image;

import java.awt.color.ColorSpace;
import java.awt.color.ICC_ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.stream.ImageInputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Reads JPEG and PNG files (and whatever else {@code javax.imageio} reads) into an {@link RgbImage} the
 * way PIL's {@code Image.open(f).convert("RGB")} sees them, which is how VMamba's data loader opens
 * images: the decoded samples as stored, no colour management (an embedded ICC profile is ignored, as
 * PIL ignores it, where ImageIO's JPEG reader would convert to sRGB), no EXIF rotation; grey is copied to the three channels, alpha is dropped (not
 * composited), a palette is looked up; 16-bit RGB keeps the high byte and 16-bit grey is clipped to
 * 255, as PIL's conversions do.
 *
 * <p>JPEG: ImageIO's decoder (built on IJG libjpeg 6b) and the libjpeg-turbo inside Pillow 12.3 both
 * use the integer inverse DCT and "fancy" chroma upsampling by default; measured on ten JPEGs (photos
 * and diagrams, 4:4:4, 4:2:2 and 4:2:0, baseline and progressive, Adobe and ICC-tagged, up to
 * 2013x2241) they decode to the same bytes, so the whole transform matches PIL + torchvision exactly
 * there. Other encoders' corner cases (arithmetic coding, 12-bit, CMYK) are not covered.
 */
public final class ImageFiles {
    private ImageFiles() {}

    /**
     * The most pixels an image may have: twice PIL's {@code MAX_IMAGE_PIXELS}, where PIL refuses an image as
     * a decompression bomb, so what VMamba's loader opens is opened here and a header claiming more is an
     * {@link IOException} before its pixels are allocated.
     */
    public static final long MAX_PIXELS = 2L * 89_478_485L;

    public static RgbImage read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such image file");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            return decode(in, file.toString());
        } catch (IOException | RuntimeException e) {
            throw named(e, file.toString());
        }
    }

    /**
     * Decodes an image held in memory (the content column of Spark's {@code binaryFile} source, say)
     * exactly as {@link #read(Path)} decodes the same bytes from a file; {@code label} names it in errors.
     */
    public static RgbImage read(byte[] bytes, String label) throws IOException {
        if (bytes == null || bytes.length == 0) {
            throw new IOException(label + ": not a readable image (no bytes)");
        }
        // A memory-backed stream: no temporary file, whatever ImageIO's cache setting is.
        try (ImageInputStream in = new javax.imageio.stream.MemoryCacheImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
            return decode(in, label);
        } catch (IOException | RuntimeException e) {
            throw named(e, label);
        }
    }

    private static RgbImage decode(ImageInputStream in, String label) throws IOException {
        Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
        if (readers == null || !readers.hasNext()) {
            throw new IOException(label + ": not an image format that javax.imageio reads (expected JPEG or PNG)");
        }
        ImageReader reader = readers.next();
        try {
            reader.setInput(in, true, true);
            // The header's size, before any pixel is allocated: a small file must not claim gigabytes.
            long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
            if (pixels > MAX_PIXELS) {
                throw new IOException(label + ": " + reader.getWidth(0) + "x" + reader.getHeight(0) + " pixels, more than the "
                        + MAX_PIXELS + " an image may have (PIL's decompression-bomb limit)");
            }
            ImageReadParam param = reader.getDefaultReadParam();
            ImageTypeSpecifier unmanaged = withoutColourManagement(reader);
            if (unmanaged != null) param.setDestinationType(unmanaged);
            return toRgb(reader.read(0, param), label);
        } finally {
            reader.dispose();
        }
    }

    /** The failure as an exception naming the image; argument errors pass unchanged. */
    private static IOException named(Exception e, String label) {
        if (e instanceof Ss2dArgumentException s) throw s;
        if (e.getMessage() != null && e.getMessage().startsWith(label)) {
            if (e instanceof IOException io) return io;
            throw (RuntimeException) e;
        }
        return new IOException(label + ": not a readable image (" + e + ")", e);
    }

    /**
     * ImageIO's JPEG reader converts a JPEG with an embedded ICC profile (Adobe RGB, say) into its
     * destination's colour space, sRGB by default. Asking for the destination type that carries the
     * embedded profile itself leaves the decoded samples as they are, which is what PIL returns.
     */
    private static ImageTypeSpecifier withoutColourManagement(ImageReader reader) throws IOException {
        for (Iterator<ImageTypeSpecifier> it = reader.getImageTypes(0); it.hasNext(); ) {
            ImageTypeSpecifier t = it.next();
            ColorSpace cs = t.getColorModel().getColorSpace();
            if (cs instanceof ICC_ColorSpace && !cs.isCS_sRGB() && cs.getType() == ColorSpace.TYPE_RGB
                    && t.getBufferedImageType() == BufferedImage.TYPE_3BYTE_BGR) {
                return t;
            }
        }
        return null;
    }

    static RgbImage toRgb(BufferedImage img, String what) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        if (img.getColorModel() instanceof IndexColorModel) {
            // Palette images: the palette holds the colours; getRGB looks them up without conversion.
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                img.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++) {
                    int p = (y * w + x) * 3;
                    rgb[p] = (byte) (row[x] >> 16);
                    rgb[p + 1] = (byte) (row[x] >> 8);
                    rgb[p + 2] = (byte) row[x];
                }
            }
            return new RgbImage(w, h, rgb);
        }
        // Raw samples, never getRGB: for grey or ICC-tagged images getRGB converts colour spaces,
        // which PIL does not do.
        Raster r = img.getRaster();
        int csType = img.getColorModel().getColorSpace().getType();
        int bits = img.getColorModel().getComponentSize(0);
        boolean grey = csType == ColorSpace.TYPE_GRAY;
        if (!grey && csType != ColorSpace.TYPE_RGB) {
            throw new Ss2dArgumentException(what, "an RGB or grey image", "colour space type " + csType
                    + " (CMYK or other)", null);
        }
        int needBands = grey ? 1 : 3;
        if (r.getNumBands() < needBands || (bits != 8 && bits != 16) && !(grey && bits < 8)) {
            throw new Ss2dArgumentException(what, "8- or 16-bit samples", r.getNumBands() + " bands of " + bits + " bits", null);
        }
        int[] line = new int[w];
        for (int c = 0; c < 3; c++) {
            int band = grey ? 0 : c;
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, band, line);
                for (int x = 0; x < w; x++) {
                    int v = line[x];
                    if (bits == 16) v = grey ? Math.min(v, 255) : v >>> 8;
                    else if (bits < 8) v = v * 255 / ((1 << bits) - 1);   // 1/2/4-bit grey PNGs: PIL scales them to 0..255
                    rgb[(y * w + x) * 3 + c] = (byte) v;
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }
}
