package org.ss2d.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ss2d.cpu.StepProfile.Step;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.model.HalfWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.vmamba.VMambaBlock;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.ModelRunner;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * A whole VMamba model on the CPU backend, channels-first throughout. The blocks run on the backend's
 * SS2D/VSS code (with the z gate for v0); the stem and downsampling convolutions are im2col + the
 * backend's GEMM, LayerNorms its channel kernel. Two activation buffers and an im2col buffer are kept
 * between calls and grown only for a larger shape; the blocks' intermediates come from the backend's
 * workspace pool, which keeps its largest.
 *
 * <p>With a half {@code dtype} the weights are rounded once, here ({@link HalfWeights}), the images widened into a
 * float32 buffer, every stored map rounded at the same points as a device backend stores it ({@link HalfSteps}),
 * and the logits and features narrowed at the end.
 */
final class CpuVMamba implements ModelRunner {
    private final CpuBackend be;
    private final Kernels kernels;
    private final VMambaWeights wt;
    private final VMambaConfig c;
    private final DType act;
    private final TensorScope views = TensorScope.root("cpu-vmamba-views");
    private final Block[][] blocks;

    private Arena arena, inputArena;
    private MemorySegment bufA, bufB, cols, input;
    private long actFloats, colFloats, inputFloats;

    private volatile StepProfile steps;
    private final long[] own = new long[Own.values().length];

    /** Model-level layer kinds (block steps come from {@link StepProfile}). */
    private enum Own { PATCH_EMBED, DOWNSAMPLE, CLASSIFIER, FEATURES }

    /** One block's parameters as the backend's kernels take them. */
    private record Block(SS2DWeights op, MemorySegment zProj, CpuBackend.PackedSS2D packed, MemorySegment normW,
                         MemorySegment normB, MemorySegment norm2W, MemorySegment norm2B, MemorySegment fc1W,
                         Object fc1Packed, MemorySegment fc1B, MemorySegment fc2W, Object fc2Packed, MemorySegment fc2B,
                         int hidden) {}

    /** Packed conv/linear weights of the stem, downsampling and head, by parameter name. */
    private final Map<String, Object> packed = new java.util.HashMap<>();

    CpuVMamba(CpuBackend be, VMambaWeights weights, DType act) {
        this.be = be;
        this.kernels = be.kernels;
        this.act = act;
        this.wt = act == DType.F32 ? weights
                : new VMambaWeights(weights.config(), HalfWeights.rounded(views, weights.params(), act));
        this.c = wt.config();
        blocks = new Block[VMambaConfig.STAGES][];
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            blocks[i] = new Block[c.depth(i)];
            for (int j = 0; j < c.depth(i); j++) blocks[i][j] = block(wt.block(i, j));
        }
        for (String n : wt.params().keySet()) {
            boolean conv = n.startsWith("patch_embed.") && n.endsWith("weight") && wt.get(n).rank() == 4
                    || n.matches("layers\\.\\d\\.downsample\\.1\\.weight");
            if (conv) packConv(n);
        }
    }

    private Block block(VMambaBlock b) {
        SS2DConfig s = b.ss2d();
        Tensor inProj = b.inProj();
        MemorySegment z = null;
        if (b.zGate()) { // v0: rows [0, d_inner) project x, the rest z; zero-copy views of the one tensor
            long half = (long) s.dInner() * s.dModel() * 4;
            z = inProj.segment().asSlice(half, half);
            inProj = views.wrap("in_proj.x", inProj.segment().asSlice(0, half), DType.F32, s.dInner(), s.dModel());
        }
        SS2DWeights op = new SS2DWeights(s, inProj, b.convWeight(), b.convBias(), b.xProj(), b.dtProjsWeight(),
                b.dtProjsBias(), b.aLogs(), b.ds(), b.outNormWeight(), b.outNormBias(), b.outProj());
        int dm = s.dModel(), hid = b.mlpHidden();
        return new Block(op, z, CpuBackend.PackedSS2D.of(kernels, op, z), seg(b.normWeight()), seg(b.normBias()),
                seg(b.norm2Weight()), seg(b.norm2Bias()), seg(b.fc1Weight()),
                b.hasMlp() ? kernels.packWeights(b.fc1Weight().segment(), 0, dm, hid, dm) : null, seg(b.fc1Bias()),
                seg(b.fc2Weight()), b.hasMlp() ? kernels.packWeights(b.fc2Weight().segment(), 0, hid, dm, hid) : null,
                seg(b.fc2Bias()), hid);
    }

    /** A linear weight {@code (m, k)} packed on first use (construction-time for the blocks). */
    private Object packed(String name, int m, int k) {
        return packed.computeIfAbsent(name, n -> kernels.packWeights(p(n), 0, k, m, k));
    }

    /** Convolution weights {@code (cout, cin*k*k)} packed at construction, by segment. */
    private final java.util.IdentityHashMap<MemorySegment, Object> packedConv = new java.util.IdentityHashMap<>();

    private void packConv(String name) {
        Tensor t = wt.get(name);
        int cout = (int) t.dim(0), rows = (int) (t.elementCount() / cout);
        MemorySegment s = t.segment();
        Object pk = kernels.packWeights(s, 0, rows, cout, rows);
        if (pk != null) packedConv.put(s, pk);
    }

    private static MemorySegment seg(Tensor t) {
        return t == null ? null : t.segment();
    }

    private MemorySegment p(String name) {
        return wt.get(name).segment();
    }

    // ------------------------------------------------------------------ entry points

    @Override
    public void logits(Tensor x, Tensor out) {
        int b = (int) x.dim(0);
        int[][] g = c.grids(x.dim(2), x.dim(3));
        withProfile(() -> {
            MemorySegment y = stages(x, b, g, null);
            long t0 = System.nanoTime();
            classifier(y, b, g[3][0] * g[3][1], out);
            add(Own.CLASSIFIER, t0);
        });
    }

    @Override
    public void features(Tensor x, List<Tensor> outs) {
        int b = (int) x.dim(0);
        int[][] g = c.grids(x.dim(2), x.dim(3));
        withProfile(() -> stages(x, b, g, outs));
    }

    private void withProfile(Runnable r) {
        StepProfile mine = steps, before = be.profile;
        if (mine != null) be.profile = mine;
        try {
            r.run();
        } finally {
            if (mine != null) be.profile = before;
        }
    }

    // ------------------------------------------------------------------ the network

    /** Stem and the four stages; returns the buffer holding the last stage's output. */
    private MemorySegment stages(Tensor x, int b, int[][] g, List<Tensor> features) {
        ensure(b, (int) x.dim(2), (int) x.dim(3), g);
        long t0 = System.nanoTime();
        MemorySegment in = x.segment();
        if (act.isHalf()) {
            in = widenedInput(x.elementCount());
            HalfSteps.widen(be, act, x.segment(), in, x.elementCount());
        }
        MemorySegment cur = patchEmbed(in, b, (int) x.dim(2), (int) x.dim(3), g[0]);
        MemorySegment other = cur == bufA ? bufB : bufA;
        add(Own.PATCH_EMBED, t0);
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            int h = g[i][0], w = g[i][1];
            for (Block blk : blocks[i]) {
                runBlock(blk, cur, other, b, h, w);
                MemorySegment t = cur;
                cur = other;
                other = t;
            }
            if (features != null) {
                t0 = System.nanoTime();
                feature(i, cur, other, features.get(i), b, (long) h * w);
                add(Own.FEATURES, t0);
            }
            if (i + 1 < VMambaConfig.STAGES) {
                t0 = System.nanoTime();
                downsample(i, cur, other, b, h, w, g[i + 1]);
                MemorySegment t = cur;
                cur = other;
                other = t;
                add(Own.DOWNSAMPLE, t0);
            }
        }
        return cur;
    }

    /** Into bufA or bufB; returns which. */
    private MemorySegment patchEmbed(MemorySegment x, int b, int h, int w, int[] g0) {
        int in = c.inChans(), d0 = c.dim(0);
        long l0 = (long) g0[0] * g0[1];
        if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
            int p = c.patchSize();
            conv(x, in, h, w, p, p, 0, g0[0], g0[1], b, p("patch_embed.0.weight"), p("patch_embed.0.bias"), d0, bufA);
            be.layerNorm(bufA, bufA, b, d0, l0, p("patch_embed.2.weight"), p("patch_embed.2.bias"));
            HalfSteps.round(be, act, bufA, (long) b * d0 * l0);
            return bufA;
        }
        int s = c.patchSize() / 2, k = s + 1, hid = c.stemHidden();
        int h1 = (h + 2 - k) / s + 1, w1 = (w + 2 - k) / s + 1;
        long l1 = (long) h1 * w1;
        conv(x, in, h, w, k, s, 1, h1, w1, b, p("patch_embed.0.weight"), p("patch_embed.0.bias"), hid, bufB);
        be.layerNorm(bufB, bufB, b, hid, l1, p("patch_embed.2.weight"), p("patch_embed.2.bias"));
        elementwise((long) b * hid * l1, (off, n) -> {
            kernels.gelu(bufB, off, n);
            HalfSteps.roundSpan(kernels, act, bufB, off, n);
        });
        conv(bufB, hid, h1, w1, k, s, 1, g0[0], g0[1], b, p("patch_embed.5.weight"), p("patch_embed.5.bias"), d0, bufA);
        be.layerNorm(bufA, bufA, b, d0, l0, p("patch_embed.7.weight"), p("patch_embed.7.bias"));
        HalfSteps.round(be, act, bufA, (long) b * d0 * l0);
        return bufA;
    }

    /** x + SS2D(LN(x)) [+ MLP(LN2(.))] from {@code x} into {@code out} (distinct buffers). */
    private void runBlock(Block k, MemorySegment x, MemorySegment out, int b, int h, int w) {
        SS2DConfig s = k.op().config();
        int dm = s.dModel();
        long l = (long) h * w;
        Workspace ws = be.workspaces.take(Workspace.bytesFor((long) b * dm * l, (long) b * k.hidden() * l)
                + CpuBackend.ss2dBytes(s, b, l, k.zProj() != null));
        try {
            MemorySegment ln = ws.floats((long) b * dm * l);
            long t0 = System.nanoTime();
            long n = (long) b * dm * l;
            be.layerNorm(x, ln, b, dm, l, k.normW(), k.normB());
            HalfSteps.round(be, act, ln, n);
            be.mark(Step.NORM_IN, t0);
            be.ss2d(ws, k.op(), k.zProj(), k.packed(), ln, out, x, b, h, w, act); // out = x + SS2D(LN(x))
            if (k.fc1W() == null) return;
            t0 = System.nanoTime();
            be.layerNorm(out, ln, b, dm, l, k.norm2W(), k.norm2B());
            HalfSteps.round(be, act, ln, n);
            t0 = be.mark(Step.NORM_IN, t0);
            MemorySegment hidden = ws.floats((long) b * k.hidden() * l);
            be.gemmBatched(k.fc1Packed(), k.fc1W(), 0, dm, ln, dm, hidden, k.hidden(), l, b, k.fc1B(),
                    Kernels.Activation.GELU, null);
            HalfSteps.round(be, act, hidden, (long) b * k.hidden() * l);
            be.gemmBatched(k.fc2Packed(), k.fc2W(), 0, k.hidden(), hidden, k.hidden(), out, dm, l, b, k.fc2B(),
                    Kernels.Activation.NONE, out);
            HalfSteps.round(be, act, out, n);
            be.mark(Step.MLP, t0);
        } finally {
            be.workspaces.give(ws);
        }
    }

    private void downsample(int i, MemorySegment x, MemorySegment out, int b, int h, int w, int[] gn) {
        String p = "layers." + i + ".downsample.";
        int cin = c.dim(i), cout = c.dim(i + 1);
        long ln = (long) gn[0] * gn[1];
        if (c.downsample() == VMambaConfig.Downsample.V1) {
            // PatchMerging2D: gather 2x2 neighbours into 4*cin channels (zeros past odd edges), LN, Linear
            patchMerge(x, out, b, cin, h, w, gn[0], gn[1]);
            be.layerNorm(out, out, b, 4 * cin, ln, p(p + "norm.weight"), p(p + "norm.bias"));
            HalfSteps.round(be, act, out, (long) b * 4 * cin * ln);
            be.gemmBatched(packed(p + "reduction.weight", cout, 4 * cin), p(p + "reduction.weight"), 0, 4 * cin, out,
                    4 * cin, x, cout, ln, b, null, Kernels.Activation.NONE, null);
            HalfSteps.round(be, act, x, (long) b * cout * ln);
            // the result is in x's buffer: copy it over (cout*ln <= the merged size, so no overlap issue)
            MemorySegment.copy(x, 0, out, 0, (long) b * cout * ln * 4);
            return;
        }
        int k = c.downsample() == VMambaConfig.Downsample.V2 ? 2 : 3, pad = k == 3 ? 1 : 0;
        conv(x, cin, h, w, k, 2, pad, gn[0], gn[1], b, p(p + "1.weight"), p(p + "1.bias"), cout, out);
        be.layerNorm(out, out, b, cout, ln, p(p + "3.weight"), p(p + "3.bias"));
        HalfSteps.round(be, act, out, (long) b * cout * ln);
    }

    /** Stage i's map (through outnorm<i> where there is one) into the caller's tensor; {@code spare} is free scratch. */
    private void feature(int i, MemorySegment y, MemorySegment spare, Tensor outT, int b, long l) {
        Tensor[] on = wt.outNorm(i);
        long n = (long) b * c.dim(i) * l;
        MemorySegment out = act.isHalf() ? spare : outT.segment();
        if (on == null) {
            MemorySegment.copy(y, 0, out, 0, n * 4);
        } else {
            be.layerNorm(y, out, b, c.dim(i), l, on[0].segment(), on[1].segment());
        }
        if (act.isHalf()) HalfSteps.narrow(be, act, out, outT.segment(), n);
    }

    /** LayerNorm over channels into the other buffer, global average pool, Linear head. */
    private void classifier(MemorySegment y, int b, long l, Tensor outT) {
        int d = c.dim(3), classes = c.numClasses();
        MemorySegment out = outT.segment();
        MemorySegment normed = y == bufA ? bufB : bufA;
        be.layerNorm(y, normed, b, d, l, p("classifier.norm.weight"), p("classifier.norm.bias"));
        HalfSteps.round(be, act, normed, (long) b * d * l);
        // pooled^T (d, b) in cols, logits^T (classes, b) after it: the head is one small GEMM
        MemorySegment pooled = cols, logitsT = cols.asSlice((long) d * b * 4);
        be.pool.parallelFor(b, bi -> {
            for (int ch = 0; ch < d; ch++) {
                long off = ((long) bi * d + ch) * l;
                double s = 0;
                for (long q = 0; q < l; q++) s += normed.getAtIndex(JAVA_FLOAT_UNALIGNED, off + q);
                pooled.setAtIndex(JAVA_FLOAT_UNALIGNED, (long) ch * b + bi, (float) (s / l));
            }
        });
        int tile = 64, tiles = (classes + tile - 1) / tile;
        MemorySegment hw = p("classifier.head.weight"), hb = p("classifier.head.bias");
        be.pool.parallelFor(tiles, t -> kernels.gemm(hw, 0, d, pooled, 0, b, logitsT, 0, b, d, t * tile,
                Math.min(classes, (t + 1) * tile), 0, b, hb, 0, Kernels.Activation.NONE, null, 0));
        for (int bi = 0; bi < b; bi++) {
            for (int n = 0; n < classes; n++) {
                HalfFloats.set(out, act, (long) bi * classes + n, logitsT.getAtIndex(JAVA_FLOAT_UNALIGNED, (long) n * b + bi));
            }
        }
    }

    // ------------------------------------------------------------------ dense convolution

    /**
     * torch's conv2d with bias, {@code x (b, cin, h, w)} to {@code out (b, cout, oh, ow)}: im2col into
     * {@link #cols} (rows {@code ci*k*k + ky*k + kx}), then {@code W (cout, cin*k*k) @ cols} per image.
     */
    private void conv(MemorySegment x, int cin, int h, int w, int k, int s, int pad, int oh, int ow, int b,
                      MemorySegment weight, MemorySegment bias, int cout, MemorySegment out) {
        int kk = k * k, rows = cin * kk;
        long l = (long) oh * ow;
        be.pool.parallelFor(b * cin, i -> {
            int bi = i / cin, ci = i % cin;
            // the input plane and one output row staged in per-thread arrays: bulk copies in and out, and a
            // strided gather between them without per-element segment checks
            float[] plane = plane(h * w), row = row(ow);
            MemorySegment.copy(x, JAVA_FLOAT_UNALIGNED, ((long) bi * cin + ci) * h * w * 4, plane, 0, h * w);
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    long dst = ((long) bi * rows + (long) ci * kk + ky * k + kx) * l;
                    int x0 = 0, x1 = ow; // output columns whose input column is inside the plane
                    while (x0 < ow && x0 * s + kx - pad < 0) x0++;
                    while (x1 > x0 && (x1 - 1) * s + kx - pad >= w) x1--;
                    for (int oy = 0; oy < oh; oy++) {
                        int iy = oy * s + ky - pad;
                        java.util.Arrays.fill(row, 0, ow, 0f);
                        if (iy >= 0 && iy < h) {
                            int base = iy * w + kx - pad;
                            for (int ox = x0; ox < x1; ox++) row[ox] = plane[base + ox * s];
                        }
                        MemorySegment.copy(row, 0, cols, JAVA_FLOAT_UNALIGNED, (dst + (long) oy * ow) * 4, ow);
                    }
                }
            }
        });
        be.gemmBatched(packedConv.get(weight), weight, 0, rows, cols, rows, out, cout, l, b, bias,
                Kernels.Activation.NONE, null);
    }

    private void patchMerge(MemorySegment x, MemorySegment out, int b, int ch, int h, int w, int oh, int ow) {
        long l = (long) oh * ow;
        be.pool.parallelFor(b * ch, i -> {
            int bi = i / ch, ci = i % ch;
            float[] plane = plane(h * w), merged = row((int) l);
            MemorySegment.copy(x, JAVA_FLOAT_UNALIGNED, ((long) bi * ch + ci) * h * w * 4, plane, 0, h * w);
            for (int q = 0; q < 4; q++) {
                int dy = q & 1, dx = q >> 1; // blocks x0..x3: (0,0), (1,0), (0,1), (1,1)
                for (int y = 0; y < oh; y++) {
                    int iy = 2 * y + dy;
                    for (int xx = 0; xx < ow; xx++) {
                        int ix = 2 * xx + dx;
                        merged[y * ow + xx] = iy < h && ix < w ? plane[iy * w + ix] : 0f;
                    }
                }
                MemorySegment.copy(merged, 0, out, JAVA_FLOAT_UNALIGNED,
                        ((long) bi * 4 * ch + (long) q * ch + ci) * l * 4, (int) l);
            }
        });
    }

    private static final ThreadLocal<float[][]> STAGING = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0]});

    /** This thread's staging array for an input plane (grown, never shrunk). */
    private static float[] plane(int n) {
        float[][] s = STAGING.get();
        if (s[0].length < n) s[0] = new float[n];
        return s[0];
    }

    /** This thread's staging array for an output row or map. */
    private static float[] row(int n) {
        float[][] s = STAGING.get();
        if (s[1].length < n) s[1] = new float[n];
        return s[1];
    }

    private interface Span {
        void run(long off, long n);
    }

    /** An elementwise pass over {@code n} floats in chunks spread over the pool. */
    private void elementwise(long n, Span f) {
        long chunk = 16384, chunks = (n + chunk - 1) / chunk;
        be.pool.parallelFor((int) chunks, i -> f.run(i * chunk, Math.min(chunk, n - i * chunk)));
    }

    // ------------------------------------------------------------------ buffers

    /** A float32 buffer for a half model's images, grown as needed (kept for later calls). */
    private MemorySegment widenedInput(long n) {
        if (input == null || inputFloats < n) {
            if (inputArena != null) inputArena.close();
            inputArena = Arena.ofShared();
            input = inputArena.allocate(n * 4, 64);
            inputFloats = n;
        }
        return input;
    }

    /** Grows the activation and im2col buffers for this shape (kept for later calls). */
    private void ensure(int b, int h, int w, int[][] g) {
        long act = 0, col = 0;
        if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
            col = (long) c.inChans() * c.patchSize() * c.patchSize() * g[0][0] * g[0][1];
        } else {
            int s = c.patchSize() / 2, k = s + 1;
            long h1 = (h + 2 - k) / s + 1, w1 = (w + 2 - k) / s + 1;
            act = c.stemHidden() * h1 * w1;
            col = Math.max((long) c.inChans() * k * k * h1 * w1, (long) c.stemHidden() * k * k * g[0][0] * g[0][1]);
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long l = (long) g[i][0] * g[i][1];
            act = Math.max(act, c.dim(i) * l);
            if (i + 1 < VMambaConfig.STAGES) {
                long ln = (long) g[i + 1][0] * g[i + 1][1];
                if (c.downsample() == VMambaConfig.Downsample.V1) {
                    act = Math.max(act, 4L * c.dim(i) * ln);
                } else {
                    int k = c.downsample() == VMambaConfig.Downsample.V2 ? 2 : 3;
                    col = Math.max(col, (long) c.dim(i) * k * k * ln);
                }
            }
        }
        col = Math.max(col, (long) (c.dim(3) + Math.max(0, c.numClasses())) * 1); // the head's pooled + logits, per image
        act *= b;
        col *= b;
        if (act <= actFloats && col <= colFloats) return;
        if (arena != null) arena.close();
        arena = Arena.ofShared();
        actFloats = Math.max(act, actFloats);
        colFloats = Math.max(col, colFloats);
        bufA = arena.allocate(actFloats * 4, 64);
        bufB = arena.allocate(actFloats * 4, 64);
        cols = arena.allocate(colFloats * 4, 64);
    }

    // ------------------------------------------------------------------ profile

    @Override
    public void profiling(boolean on) {
        steps = on ? new StepProfile() : null;
        java.util.Arrays.fill(own, 0);
    }

    private void add(Own k, long t0) {
        if (steps != null) own[k.ordinal()] += System.nanoTime() - t0;
    }

    @Override
    public Map<String, Long> profile() {
        StepProfile s = steps;
        Map<String, Long> m = new LinkedHashMap<>();
        if (s == null) return m;
        m.put("patch_embed", own[Own.PATCH_EMBED.ordinal()]);
        for (Step st : Step.values()) {
            long v = s.nanos(st);
            String name = switch (st) {
                case NORM_IN -> "norm";
                case NORM_OUT -> "out_norm";
                default -> st.name().toLowerCase(Locale.ROOT);
            };
            if (v > 0) m.put(name, v);
        }
        m.put("downsample", own[Own.DOWNSAMPLE.ordinal()]);
        if (own[Own.FEATURES.ordinal()] > 0) m.put("features", own[Own.FEATURES.ordinal()]);
        if (own[Own.CLASSIFIER.ordinal()] > 0) m.put("classifier", own[Own.CLASSIFIER.ordinal()]);
        return m;
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
        arena = null;
        if (inputArena != null) inputArena.close();
        inputArena = null;
        views.release();
    }
}
