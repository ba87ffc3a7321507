package org.ss2d.interop.image;

/**
 * PIL's antialiased resampling of 8-bit images ({@code Image.resize} with BICUBIC or BILINEAR), done
 * the way Pillow's {@code Resample.c} does it so that the bytes agree: per axis, a filter whose support
 * is widened by the downscale factor, weights normalised to sum 1 and turned into 22-bit fixed point
 * (rounded half away from zero); a horizontal pass into an 8-bit intermediate (only over the rows the
 * vertical pass reads), then a vertical pass; each sum starts at one half and is shifted and clipped
 * to 0..255. An axis whose size does not change is not resampled.
 */
final class PilResample {
    /** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2 (sums of 255 * weights stay in an int). */
    private static final int PRECISION_BITS = 22;
    private static final int HALF = 1 << (PRECISION_BITS - 1);

    private PilResample() {}

    /** One axis's taps: for output i, source indices {@code first[i] .. first[i] + count[i] - 1}. */
    record Taps(int kernelSize, int[] first, int[] count, int[] weights) {}

    static Taps taps(int inSize, int outSize, Interpolation filter) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support * filterScale;
        int kernelSize = (int) Math.ceil(support) * 2 + 1;
        int[] first = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[outSize * kernelSize];
        double[] k = new double[kernelSize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            // (int) truncates toward zero, as C's cast does; negatives are clamped to 0 right after.
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++) {
                k[x] = filter.weight((x + xmin - center + 0.5) * ss);
                sum += k[x];
            }
            for (int x = 0; x < kernelSize; x++) {
                double w = x < xmax ? (sum != 0.0 ? k[x] / sum : k[x]) : 0.0;
                weights[xx * kernelSize + x] = (int) (w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
                                                             : 0.5 + w * (1 << PRECISION_BITS));
            }
            first[xx] = xmin;
            count[xx] = xmax;
        }
        return new Taps(kernelSize, first, count, weights);
    }

    static RgbImage resize(RgbImage in, int outWidth, int outHeight, Interpolation filter) {
        boolean horizontal = outWidth != in.width();
        boolean vertical = outHeight != in.height();
        if (!horizontal && !vertical) {
            return new RgbImage(in.width(), in.height(), in.rgb().clone());
        }
        Taps tx = taps(in.width(), outWidth, filter);
        Taps ty = taps(in.height(), outHeight, filter);
        // The horizontal pass only covers the rows that the vertical pass reads.
        int rowFirst = vertical ? ty.first[0] : 0;
        int rowEnd = vertical ? ty.first[outHeight - 1] + ty.count[outHeight - 1] : in.height();
        byte[] src = in.rgb();
        int width = in.width();
        if (horizontal) {
            src = horizontalPass(src, width, rowFirst, rowEnd, outWidth, tx);
            width = outWidth;
        } else if (rowFirst != 0) {
            src = java.util.Arrays.copyOfRange(src, rowFirst * width * 3, rowEnd * width * 3);
        }
        if (!vertical) {
            return new RgbImage(width, in.height(), src);
        }
        return new RgbImage(width, outHeight, verticalPass(src, width, rowFirst, outHeight, ty));
    }

    private static byte[] horizontalPass(byte[] in, int inWidth, int rowFirst, int rowEnd, int outWidth, Taps t) {
        byte[] out = new byte[(rowEnd - rowFirst) * outWidth * 3];
        int ks = t.kernelSize;
        for (int y = rowFirst; y < rowEnd; y++) {
            int rowIn = y * inWidth * 3;
            int rowOut = (y - rowFirst) * outWidth * 3;
            for (int xx = 0; xx < outWidth; xx++) {
                int s0 = HALF, s1 = HALF, s2 = HALF;
                int base = rowIn + t.first[xx] * 3;
                for (int x = 0, n = t.count[xx]; x < n; x++) {
                    int w = t.weights[xx * ks + x];
                    int p = base + x * 3;
                    s0 += (in[p] & 0xFF) * w;
                    s1 += (in[p + 1] & 0xFF) * w;
                    s2 += (in[p + 2] & 0xFF) * w;
                }
                out[rowOut + xx * 3] = clip8(s0);
                out[rowOut + xx * 3 + 1] = clip8(s1);
                out[rowOut + xx * 3 + 2] = clip8(s2);
            }
        }
        return out;
    }

    /** {@code in} holds the rows from {@code rowFirst} on (the horizontal pass's output). */
    private static byte[] verticalPass(byte[] in, int width, int rowFirst, int outHeight, Taps t) {
        byte[] out = new byte[outHeight * width * 3];
        int ks = t.kernelSize;
        int stride = width * 3;
        for (int yy = 0; yy < outHeight; yy++) {
            int first = t.first[yy] - rowFirst;
            int n = t.count[yy];
            for (int i = 0; i < stride; i++) {
                int s = HALF;
                for (int y = 0; y < n; y++) {
                    s += (in[(first + y) * stride + i] & 0xFF) * t.weights[yy * ks + y];
                }
                out[yy * stride + i] = clip8(s);
            }
        }
        return out;
    }

    private static byte clip8(int sum) {
        int v = sum >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }
}
