package org.ss2d.cuda;

/**
 * Which kernel runs the depthwise convolution + activation ({@code conv_silu}), with its grid: the register-tile
 * {@code v2} kernels of {@code dwconv.cuh} (default), or the shared-memory band kernel {@code ss2d_dwconv2d_rows} and
 * its plain fallback {@code ss2d_dwconv2d} ({@code -Dss2d.cuda.dwconv=rows}, kept to compare and to fall back).
 *
 * @param kernel the entry point's name
 * @param form   its argument list
 * @param grid   blocks of 256 threads (every form strides over its work, so any cap is correct)
 * @param band   output rows per block of the band kernel (0 for the others)
 */
record DwconvPlan(String kernel, Form form, long grid, long band) {
    /** {@code -Dss2d.cuda.dwconv=v2|rows}; read per call so that one JVM can time both. */
    static final String PROPERTY = "ss2d.cuda.dwconv";

    enum Form { V2, ROWS, PLAIN }

    /** Kernel sizes with a v2 entry point (a template argument each: the k x k taps stay in registers). */
    static boolean v2Supports(long k) {
        return k == 3 || k == 5 || k == 7;
    }

    /** The configured variant: {@code v2} (default) or {@code rows}; anything else is an error naming the property. */
    static String configured() {
        return CudaSettings.choice(PROPERTY, "v2", "v2", "rows");
    }

    /**
     * The plan for {@code b x c} planes of {@code h x w}, kernel size {@code k}, element type {@code kind} (0
     * float32, 1 float16, 2 bfloat16), input and output at the device addresses {@code x}, {@code out}.
     * {@code gridCap} bounds the grid (tests pass a small one so that the stride loops run several times).
     */
    static DwconvPlan of(String variant, long kind, long x, long out, long b, long c, long h, long w, long k,
                         long gridCap) {
        String suffix = kind == 0 ? "" : Layers.suffix(kind);
        long planes = b * c;
        // 2 x 4 outputs a thread; the kernel's index arithmetic is 32-bit (tile index and in-plane offsets)
        long tiles = planes * ((h + 1) / 2) * ((w + 3) / 4);
        if (variant.equals("v2") && v2Supports(k) && tiles < (1L << 31) && h * w < (1L << 31)) {
            long vecBytes = 4L * (kind == 0 ? 4 : 2);
            boolean vec = w % 4 == 0 && x % vecBytes == 0 && out % vecBytes == 0;
            return new DwconvPlan("ss2d_dwconv2d_v2_k" + k + (vec ? "_vec" : "") + suffix, Form.V2,
                    Math.max(1, Math.min((tiles + 255) / 256, gridCap)), 0);
        }
        long band = Layers.dwconvBand(h, w, k);
        if (band > 0) {
            long blocks = planes * ((h + band - 1) / band);
            return new DwconvPlan("ss2d_dwconv2d_rows" + suffix, Form.ROWS, Math.max(1, Math.min(blocks, gridCap)), band);
        }
        long work = planes * h * w;
        return new DwconvPlan("ss2d_dwconv2d" + suffix, Form.PLAIN, Math.max(1, Math.min((work + 255) / 256, gridCap)), 0);
    }

    /** The grid cap of the model's launches: a few waves of 256-thread blocks (as the band kernel always had). */
    static long defaultCap(int smCount) {
        return (long) smCount * 64;
    }
}
