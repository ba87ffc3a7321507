package org.ss2d.reference;

/**
 * VMamba's CrossScan and CrossMerge (spec 5.2) in double precision, written from the route table:
 * {@code xs[b,k,c,l] = x[b,c,src_k(l)]} and {@code y[b,c,src_k(l)] += ys[b,k,c,l]}.
 */
public final class CrossRef {
    private CrossRef() {}

    /** Row-major pixel that route {@code k} visits at step {@code l} on an {@code h x w} grid. */
    public static int source(int k, int l, int h, int w) {
        int len = h * w;
        return switch (k) {
            case 0 -> l;
            case 1 -> (l % h) * w + l / h;
            case 2 -> len - 1 - l;
            case 3 -> source(1, len - 1 - l, h, w);
            default -> throw new IllegalArgumentException("route " + k);
        };
    }

    /** {@code x (batch, c, h, w)} to {@code xs (batch, 4, c, h*w)}. */
    public static double[] scan(double[] x, int batch, int c, int h, int w) {
        int len = h * w;
        double[] xs = new double[batch * 4 * c * len];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < 4; k++)
                for (int ch = 0; ch < c; ch++)
                    for (int l = 0; l < len; l++)
                        xs[((b * 4 + k) * c + ch) * len + l] = x[(b * c + ch) * len + source(k, l, h, w)];
        return xs;
    }

    /** {@code ys (batch, 4, c, h*w)} to {@code y (batch, c, h, w)}: the adjoint of {@link #scan}. */
    public static double[] merge(double[] ys, int batch, int c, int h, int w) {
        int len = h * w;
        double[] y = new double[batch * c * len];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < 4; k++)
                for (int ch = 0; ch < c; ch++)
                    for (int l = 0; l < len; l++)
                        y[(b * c + ch) * len + source(k, l, h, w)] += ys[((b * 4 + k) * c + ch) * len + l];
        return y;
    }
}
