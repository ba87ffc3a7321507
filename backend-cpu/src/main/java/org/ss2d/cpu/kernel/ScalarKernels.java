package org.ss2d.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * Plain Java kernels: the fallback when the Vector API is not enabled, and the readable statement of
 * what every SIMD kernel computes. Float32 arithmetic with the library's exp/log1p.
 */
final class ScalarKernels extends Kernels {
    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public int lanes() {
        return 1;
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
    }

    static void set(MemorySegment s, long i, float v) {
        s.setAtIndex(JAVA_FLOAT_UNALIGNED, i, v);
    }

    static float softplus(float x) {
        return x <= 20f ? (float) Math.log1p(Math.exp(x)) : x;
    }

    static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    @Override
    public void scan(ScanJob j, int rowFrom, int rowTo) {
        final int l = j.seqlen(), n = j.dstate();
        float[] h = new float[n];
        for (int row = rowFrom; row < rowTo; row++) {
            int b = row / j.dim(), d = row % j.dim();
            long base = (long) row * l;
            long bRow = j.bVariable() ? j.bRow(b, d) : 0, cRow = j.cVariable() ? j.cRow(b, d) : 0;
            float bias = j.deltaBias() == null ? 0f : get(j.deltaBias(), d);
            float dSkip = j.dSkip() == null ? 0f : get(j.dSkip(), d);
            java.util.Arrays.fill(h, 0f);
            for (int t = 0; t < l; t++) {
                float x = get(j.delta(), base + t) + bias;
                float dt = j.softplus() ? softplus(x) : x;
                float uu = get(j.u(), base + t), du = dt * uu, y = 0f;
                for (int s = 0; s < n; s++) {
                    float bb = j.bVariable() ? get(j.b(), bRow + s * j.bStateStride() + t) : get(j.b(), (long) d * n + s);
                    float cc = j.cVariable() ? get(j.c(), cRow + s * j.cStateStride() + t) : get(j.c(), (long) d * n + s);
                    h[s] = (float) Math.exp(dt * get(j.a(), (long) d * n + s)) * h[s] + du * bb;
                    y += cc * h[s];
                }
                y += dSkip * uu;
                if (j.z() != null) y *= silu(get(j.z(), base + t));
                set(j.out(), base + t, y);
            }
            if (j.lastState() != null) {
                for (int s = 0; s < n; s++) set(j.lastState(), (long) row * n + s, h[s]);
            }
        }
    }

    @Override
    public void gemm(MemorySegment w, long wOff, int ldw, MemorySegment x, long xOff, int ldx, MemorySegment out,
                     long outOff, int ldo, int k, int m0, int m1, int p0, int p1, MemorySegment bias, long biasOff,
                     Activation act, MemorySegment residual, long resOff) {
        float[] acc = new float[p1 - p0];
        for (int m = m0; m < m1; m++) {
            java.util.Arrays.fill(acc, bias == null ? 0f : get(bias, biasOff + m));
            for (int kk = 0; kk < k; kk++) {
                float wv = get(w, wOff + (long) m * ldw + kk);
                long xr = xOff + (long) kk * ldx;
                for (int p = p0; p < p1; p++) acc[p - p0] += wv * get(x, xr + p);
            }
            for (int p = p0; p < p1; p++) {
                float v = acc[p - p0];
                if (act == Activation.GELU) v = gelu(v);
                if (residual != null) v += get(residual, resOff + (long) m * ldo + p);
                set(out, outOff + (long) m * ldo + p, v);
            }
        }
    }

    /** GELU, erf form: {@code x * (1 + erf(x / sqrt 2)) / 2}. */
    static float gelu(float x) {
        return 0.5f * x * (1f + erf(x * 0.70710678118654752f));
    }

    /** erf with |error| < 1.5e-7 (Abramowitz and Stegun 7.1.26), in double. */
    static float erf(float xf) {
        double x = Math.abs(xf);
        double t = 1.0 / (1.0 + 0.3275911 * x);
        double y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
                * Math.exp(-x * x);
        return (float) Math.copySign(y, xf);
    }

    @Override
    public void gelu(MemorySegment x, long off, long n) {
        for (long i = off; i < off + n; i++) set(x, i, gelu(get(x, i)));
    }

    @Override
    public void mulSilu(MemorySegment y, long yOff, MemorySegment z, long zOff, long n) {
        for (long i = 0; i < n; i++) set(y, yOff + i, get(y, yOff + i) * silu(get(z, zOff + i)));
    }

    @Override
    public void depthwiseConvSilu(MemorySegment in, long inOff, MemorySegment out, long outOff, int h, int w,
                                  MemorySegment weight, long weightOff, int k, float bias) {
        int pad = (k - 1) / 2;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float acc = bias;
                for (int i = 0; i < k; i++) {
                    int yy = y + i - pad;
                    if (yy < 0 || yy >= h) continue;
                    for (int jj = 0; jj < k; jj++) {
                        int xx = x + jj - pad;
                        if (xx < 0 || xx >= w) continue;
                        acc += get(weight, weightOff + i * k + jj) * get(in, inOff + (long) yy * w + xx);
                    }
                }
                set(out, outOff + (long) y * w + x, silu(acc));
            }
        }
    }

    @Override
    public void layerNormChannels(MemorySegment in, long inOff, MemorySegment out, long outOff, int channels, int stride,
                                  int p0, int p1, MemorySegment gamma, MemorySegment beta, float eps) {
        for (int p = p0; p < p1; p++) {
            float mean = 0f;
            for (int c = 0; c < channels; c++) mean += get(in, inOff + (long) c * stride + p);
            mean /= channels;
            float var = 0f;
            for (int c = 0; c < channels; c++) {
                float v = get(in, inOff + (long) c * stride + p) - mean;
                var += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(var / channels + eps));
            for (int c = 0; c < channels; c++) {
                float v = (get(in, inOff + (long) c * stride + p) - mean) * inv;
                set(out, outOff + (long) c * stride + p, v * get(gamma, c) + get(beta, c));
            }
        }
    }

    @Override
    public void crossScanPlane(MemorySegment x, long xOff, int h, int w, MemorySegment out, long r0, long r1, long r2,
                               long r3) {
        int l = h * w;
        for (int p = 0; p < l; p++) {
            float v = get(x, xOff + p);
            set(out, r0 + p, v);
            set(out, r2 + (l - 1 - p), v);
        }
        // route 1 reads column-major: step l = col * H + row
        for (int col = 0; col < w; col++) {
            for (int row = 0; row < h; row++) {
                float v = get(x, xOff + (long) row * w + col);
                int s = col * h + row;
                set(out, r1 + s, v);
                set(out, r3 + (l - 1 - s), v);
            }
        }
    }

    @Override
    public void crossMergePlane(MemorySegment ys, long r0, long r1, long r2, long r3, int h, int w, MemorySegment out,
                                long outOff) {
        int l = h * w;
        for (int row = 0; row < h; row++) {
            for (int col = 0; col < w; col++) {
                int p = row * w + col, s = col * h + row;
                float v = get(ys, r0 + p) + get(ys, r2 + (l - 1 - p)) + get(ys, r1 + s) + get(ys, r3 + (l - 1 - s));
                set(out, outOff + p, v);
            }
        }
    }
}
