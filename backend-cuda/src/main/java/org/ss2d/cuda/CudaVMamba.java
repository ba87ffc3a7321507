package org.ss2d.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.model.HalfWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.vmamba.VMambaBlock;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.ModelRunner;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;

/**
 * A whole VMamba model on the device, channels-first throughout, every step queued on the backend's one
 * stream. The weights are uploaded once, when the model is built, into one device buffer (with
 * {@code -exp(A_logs)} of every block beside them). Activations live in two arenas kept between calls: one
 * for the call (host staging, two ping-pong activation buffers, pooled features), one for scratch that is busy
 * at one time (a block's intermediates, reused by every block; or the stem's hidden map and im2col columns; or
 * a downsampling's columns). Both are sized from the {@link ModelPlan} of the shape before its first call, so
 * that call allocates each arena once and later calls of that shape allocate nothing and, on device tensors,
 * never wait for the device.
 *
 * <p>Stem and downsampling convolutions are im2col + a cuBLAS GEMM: the GEMM does the FLOPs at cuBLAS's
 * rate (and in TF32 when the backend allows it) without a hand-tuned convolution kernel or a cuDNN
 * dependency, and the columns cost one extra write and read of at most one activation map per chunk (see
 * {@link ModelPlan}). Their biases are folded into the LayerNorm that follows ({@code ss2d_layernorm_cf_ex},
 * with the stem's GELU). Blocks are {@link Ss2dBlock#residual} (v0's z gate included).
 *
 * <p>With a half {@code dtype} ({@code kind} 1 float16, 2 bfloat16) the converted weights ({@link HalfWeights}) are
 * uploaded rounded (float32, for the layer kernels and the head) and, for every matrix and convolution kernel, also
 * in 16 bits (for cuBLAS); the images, every stored map, the features and the logits are 16-bit; each convolution's
 * GEMM writes float32 into the scratch and its LayerNorm (bias folded in) rounds once; blocks are
 * {@link Ss2dBlock#residualHalf}; the pooled features stay float32.
 */
final class CudaVMamba implements ModelRunner {
    private final CudaBackend be;
    private final CudaDevice dev;
    private final VMambaConfig c;
    private final VMambaWeights wt;
    private final HostStaging staging;
    private final Blk[][] blocks;
    /** Device address of every weight tensor (identity: the caller's tensors). */
    private final IdentityHashMap<Tensor, Long> addr = new IdentityHashMap<>();
    /** Device address of {@code -exp(A_logs)} per A_logs tensor. */
    private final IdentityHashMap<Tensor, Long> negA = new IdentityHashMap<>();
    /** Device address of the 16-bit copy of every converted matrix or kernel (half models only). */
    private final IdentityHashMap<Tensor, Long> halfAddr = new IdentityHashMap<>();
    /** 0 for float32, else the 16-bit type (1 float16, 2 bfloat16) of the activations. */
    private final long kind;
    private final org.ss2d.tensor.DType dtype;
    private final Ss2dBlock.Half half;
    private final DeviceBuffer weightBuffer;
    private final ScratchArena callArena, scratch;
    private ModelPlan plan;
    /** Whether {@link #plan} was sized for the fused middle: re-planned when the opt-in property changes. */
    private boolean planFused;
    private boolean profiling;
    private final Map<String, Long> profileNs = new LinkedHashMap<>();
    private boolean closed;

    /** One block: its SS2D weights as {@link Ss2dBlock} takes them, the z rows' address (0 for v05_noz). */
    private record Blk(VMambaBlock b, SS2DWeights op, long zProj) {}

    /** Called with the backend's lock held and its context current. */
    CudaVMamba(CudaBackend be, CudaDevice dev, VMambaWeights wt) {
        this(be, dev, wt, org.ss2d.tensor.DType.F32);
    }

    CudaVMamba(CudaBackend be, CudaDevice dev, VMambaWeights wt, org.ss2d.tensor.DType dtype) {
        this.be = be;
        this.dev = dev;
        this.wt = wt;
        this.c = wt.config();
        this.dtype = dtype;
        this.kind = dtype == org.ss2d.tensor.DType.F32 ? 0 : dtype == org.ss2d.tensor.DType.F16 ? 1 : 2;
        this.half = kind == 0 ? null : new Ss2dBlock.Half(kind, this::halfWeight, this::weight, this::weight, this::negExpA);
        this.staging = new HostStaging(dev);
        this.callArena = new ScratchArena(dev);
        this.scratch = new ScratchArena(dev);
        this.weightBuffer = upload();
        try {
            blocks = new Blk[VMambaConfig.STAGES][];
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                blocks[i] = new Blk[c.depth(i)];
                for (int j = 0; j < c.depth(i); j++) blocks[i][j] = blk(wt.block(i, j));
            }
        } catch (RuntimeException e) {
            weightBuffer.free();
            throw e;
        }
    }

    private Blk blk(VMambaBlock b) {
        SS2DConfig s = b.ss2d();
        SS2DWeights op = new SS2DWeights(s, b.inProj(), b.convWeight(), b.convBias(), b.xProj(), b.dtProjsWeight(),
                b.dtProjsBias(), b.aLogs(), b.ds(), b.outNormWeight(), b.outNormBias(), b.outProj());
        // v0: in_proj's rows are x's d_inner, then z's d_inner (row-major, so z's start d_inner * d_model elements in)
        long z = !b.zGate() ? 0 : kind == 0 ? weight(b.inProj()) + 4L * s.dInner() * s.dModel()
                : halfWeight(b.inProj()) + 2L * s.dInner() * s.dModel();
        return new Blk(b, op, z);
    }

    /**
     * Copies every host weight and every block's {@code -exp(A_logs)} into one device buffer (256-byte aligned
     * pieces), waits for the copies, and records the addresses.
     */
    private DeviceBuffer upload() {
        long total = 0;
        IdentityHashMap<Tensor, Long> offsets = new IdentityHashMap<>();
        for (Tensor t : wt.params().values()) { // host tensors: the facade accepts no others
            if (!offsets.containsKey(t)) {
                offsets.put(t, total);
                total += ScratchArena.aligned(t.byteSize());
            }
        }
        // a half model: the converted weights' 16-bit copies (matrices and kernels) after the float32 ones
        IdentityHashMap<Tensor, Long> halfOffsets = new IdentityHashMap<>();
        java.util.Set<Tensor> converted = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        if (kind != 0) {
            for (var e : wt.params().entrySet()) {
                if (!HalfWeights.converted(e.getKey(), wt.params())) continue;
                Tensor t = e.getValue();
                converted.add(t);
                if (t.rank() >= 2 && !halfOffsets.containsKey(t)) {
                    halfOffsets.put(t, total);
                    total += ScratchArena.aligned(t.elementCount() * 2);
                }
            }
        }
        IdentityHashMap<Tensor, Long> aOffsets = new IdentityHashMap<>();
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            for (int j = 0; j < c.depth(i); j++) {
                Tensor a = wt.block(i, j).aLogs();
                aOffsets.put(a, total);
                total += ScratchArena.aligned(a.byteSize());
            }
        }
        DeviceBuffer buf = DeviceBuffer.allocate(dev, total);
        try (Arena host = Arena.ofConfined()) {
            long base = buf.address();
            for (var e : offsets.entrySet()) {
                Tensor t = e.getKey();
                MemorySegment src = t.segment();
                if (converted.contains(t)) { // the values rounded to the model's dtype, still float32
                    float[] v = t.toFloatArray();
                    src = host.allocate(4L * v.length, 16);
                    for (int k = 0; k < v.length; k++) src.setAtIndex(ValueLayout.JAVA_FLOAT, k, HalfFloats.round(dtype, v[k]));
                }
                CudaDriver.copyHostToDevice(base + e.getValue(), src, t.byteSize(), dev.stream);
                addr.put(t, base + e.getValue());
            }
            for (var e : halfOffsets.entrySet()) {
                float[] v = e.getKey().toFloatArray();
                MemorySegment h16 = host.allocate(2L * v.length, 16);
                for (int k = 0; k < v.length; k++) HalfFloats.set(h16, dtype, k, v[k]);
                CudaDriver.copyHostToDevice(base + e.getValue(), h16, h16.byteSize(), dev.stream);
                halfAddr.put(e.getKey(), base + e.getValue());
            }
            for (var e : aOffsets.entrySet()) {
                float[] v = e.getKey().toFloatArray();
                MemorySegment s = host.allocate(4L * v.length, 16);
                for (int k = 0; k < v.length; k++) s.setAtIndex(ValueLayout.JAVA_FLOAT, k, (float) -Math.exp(v[k]));
                CudaDriver.copyHostToDevice(base + e.getValue(), s, s.byteSize(), dev.stream);
                negA.put(e.getKey(), base + e.getValue());
            }
            // the copies read host memory (ours, freed with the arena; pinned caller memory is read asynchronously)
            dev.synchronize();
        } catch (RuntimeException e) {
            buf.free();
            throw e;
        }
        return buf;
    }

    private long weight(Tensor t) {
        if (t == null) return 0;
        Long a = addr.get(t);
        if (a == null) throw new IllegalStateException(t.describe() + " is not a weight of this model");
        return a;
    }

    private long negExpA(Tensor aLogs) {
        return negA.get(aLogs);
    }

    /** The 16-bit copy of a converted matrix or kernel (half models); 0 for null. */
    private long halfWeight(Tensor t) {
        if (t == null) return 0;
        Long a = halfAddr.get(t);
        if (a == null) throw new IllegalStateException(t.describe() + " has no 16-bit copy in this model");
        return a;
    }

    private long ph(String name) {
        return halfWeight(wt.get(name));
    }

    private long p(String name) {
        return weight(wt.get(name));
    }

    // ------------------------------------------------------------------ entry points

    @Override
    public void logits(Tensor x, Tensor out) {
        run(x, out, null);
    }

    @Override
    public void features(Tensor x, List<Tensor> outs) {
        run(x, null, outs);
    }

    private void run(Tensor x, Tensor logits, List<Tensor> features) {
        synchronized (be) {
            checkOpen();
            dev.makeCurrent();
            int b = (int) x.dim(0), h = (int) x.dim(2), w = (int) x.dim(3);
            // a float32 model's blocks run their middle fused where opted in (FusedScan), else (and a half model's
            // always) unfused: size for the path the blocks will take, and re-plan when the property changes
            boolean fused = kind == 0 && FusedScan.enabled();
            if (plan == null || !plan.fits(b, h, w) || planFused != fused) {
                plan = ModelPlan.of(c, b, h, w, fused);
                planFused = fused;
            }
            ModelPlan p = plan;
            long stagingBytes = stagingBytes(x);
            if (logits != null) stagingBytes += stagingBytes(logits);
            if (features != null) for (Tensor f : features) stagingBytes += stagingBytes(f);
            callArena.noteDemand(p.callBytes(stagingBytes));
            scratch.noteDemand(kind == 0 ? p.scratchBytes() : halfScratchBytes(p));
            StepMarks marks = startProfile();
            try (Workspace ws = new Workspace(dev, callArena)) {
                long xd = staging.input(x, ws);
                long od = logits == null ? 0 : staging.output(logits, ws);
                long[] fd = new long[VMambaConfig.STAGES];
                if (features != null) for (int i = 0; i < fd.length; i++) fd[i] = staging.output(features.get(i), ws);
                long bufA = ws.floats(p.actFloats()), bufB = ws.floats(p.actFloats());
                long pooled = p.pooledFloats() > 0 ? ws.floats(p.pooledFloats()) : 0;
                forward(p, xd, bufA, bufB, pooled, od, features == null ? null : fd);
                if (logits != null) staging.finish(logits, od);
                if (features != null) for (int i = 0; i < fd.length; i++) staging.finish(features.get(i), fd[i]);
            } finally {
                endProfile(marks);
            }
        }
    }

    /**
     * The scratch of a half model: the float32 plan's, plus the largest block's float32 copies for the scan and the
     * MLP ({@link Ss2dBlock#workspaceBytesHalf}), a convolution's float32 output and the head's float32 logits.
     */
    private long halfScratchBytes(ModelPlan p) {
        long extra = 0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long len = (long) p.grids()[i][0] * p.grids()[i][1];
            double ratio = c.mlpHidden(i) > 0 ? c.mlpRatio() : 0;
            extra = Math.max(extra, Ss2dBlock.workspaceBytesHalf(c.ss2d(i), ratio, p.batch(), len)
                    - Ss2dBlock.workspaceBytes(c.ss2d(i), ratio, p.batch(), len));
        }
        return org.ss2d.validate.MemoryBudget.saturatingAdd(p.scratchBytes(), extra + ModelPlan.piece(p.actFloats())
                + ModelPlan.piece((long) p.batch() * Math.max(0, c.numClasses())));
    }

    private static long stagingBytes(Tensor t) {
        return t.isHost() ? ModelPlan.piece(t.elementCount()) : 0;
    }

    // ------------------------------------------------------------------ the network

    private void forward(ModelPlan p, long x, long bufA, long bufB, long pooled, long logits, long[] features) {
        int b = p.batch();
        int[][] g = p.grids();
        long cur = bufA, other = bufB;
        if (kind != 0) {
            forwardHalf(p, x, bufA, bufB, pooled, logits, features);
            return;
        }
        patchEmbed(p, x, bufA);
        dev.mark("patch_embed");
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            int h = g[i][0], w = g[i][1];
            long len = (long) h * w;
            for (Blk k : blocks[i]) {
                try (Workspace ws = new Workspace(dev, scratch)) {
                    VMambaBlock v = k.b();
                    Ss2dBlock.residual(dev, this::weight, this::negExpA, k.op(), k.zProj(), v.normWeight(), v.normBias(),
                            v.norm2Weight(), v.norm2Bias(), v.fc1Weight(), v.fc1Bias(), v.fc2Weight(), v.fc2Bias(),
                            v.hasMlp() ? v.mlpHidden() : 0, cur, other, b, h, w, ws);
                }
                long t = cur;
                cur = other;
                other = t;
            }
            if (features != null) {
                Tensor[] on = wt.outNorm(i);
                if (on == null) {
                    CudaDriver.copyDeviceToDevice(features[i], cur, 4L * b * c.dim(i) * len, dev.stream);
                } else {
                    Layers.layerNormEx(dev, cur, 0, weight(on[0]), weight(on[1]), features[i], b, c.dim(i), len,
                            Layers.ACT_NONE);
                }
                dev.mark("features");
            }
            if (i + 1 < VMambaConfig.STAGES) {
                if (downsample(p, i, cur, other)) {
                    long t = cur;
                    cur = other;
                    other = t;
                }
                dev.mark("downsample");
            }
        }
        if (logits != 0) {
            int d = c.dim(3), classes = c.numClasses();
            long len = (long) g[3][0] * g[3][1];
            Layers.layerNormEx(dev, cur, 0, p("classifier.norm.weight"), p("classifier.norm.bias"), other, b, d, len,
                    Layers.ACT_NONE);
            Layers.avgPool(dev, other, pooled, (long) b * d, len);
            Layers.rowLinear(dev, p("classifier.head.weight"), classes, d, pooled, b, logits);
            Layers.biasAct(dev, logits, p("classifier.head.bias"), logits, b, classes, 1, Layers.ACT_NONE);
            dev.mark("classifier");
        }
    }

    // ------------------------------------------------------------------ 16-bit activations

    /** {@link #forward} of a half model: the same steps with 16-bit maps (the class comment says where it rounds). */
    private void forwardHalf(ModelPlan p, long x, long bufA, long bufB, long pooled, long logits, long[] features) {
        int b = p.batch();
        int[][] g = p.grids();
        long cur = bufA, other = bufB;
        patchEmbedHalf(p, x, bufA);
        dev.mark("patch_embed");
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            int h = g[i][0], w = g[i][1];
            long len = (long) h * w;
            for (Blk k : blocks[i]) {
                try (Workspace ws = new Workspace(dev, scratch)) {
                    VMambaBlock v = k.b();
                    Ss2dBlock.residualHalf(dev, half, k.op(), k.zProj(), v.normWeight(), v.normBias(), v.norm2Weight(),
                            v.norm2Bias(), v.fc1Weight(), v.fc1Bias(), v.fc2Weight(), v.fc2Bias(),
                            v.hasMlp() ? v.mlpHidden() : 0, cur, other, b, h, w, ws);
                }
                long t = cur;
                cur = other;
                other = t;
            }
            if (features != null) {
                Tensor[] on = wt.outNorm(i);
                if (on == null) {
                    CudaDriver.copyDeviceToDevice(features[i], cur, 2L * b * c.dim(i) * len, dev.stream);
                } else {
                    Layers.layerNormHalf(dev, kind, false, cur, 0, weight(on[0]), weight(on[1]), features[i], b, c.dim(i),
                            len, Layers.ACT_NONE);
                }
                dev.mark("features");
            }
            if (i + 1 < VMambaConfig.STAGES) {
                if (downsampleHalf(p, i, cur, other)) {
                    long t = cur;
                    cur = other;
                    other = t;
                }
                dev.mark("downsample");
            }
        }
        if (logits != 0) {
            int d = c.dim(3), classes = c.numClasses();
            long len = (long) g[3][0] * g[3][1];
            Layers.layerNormHalf(dev, kind, false, cur, 0, p("classifier.norm.weight"), p("classifier.norm.bias"), other,
                    b, d, len, Layers.ACT_NONE);
            Layers.avgPoolHalf(dev, kind, other, pooled, (long) b * d, len);
            try (Workspace ws = new Workspace(dev, scratch)) {
                long l32 = ws.floats((long) b * classes);
                Layers.rowLinear(dev, p("classifier.head.weight"), classes, d, pooled, b, l32);
                Layers.biasActRes(dev, kind, l32, p("classifier.head.bias"), 0, logits, b, classes, 1, Layers.ACT_NONE);
            }
            dev.mark("classifier");
        }
    }

    private void patchEmbedHalf(ModelPlan p, long x, long out) {
        int b = p.batch();
        ModelPlan.Conv c0 = p.conv("patch_embed.0");
        try (Workspace ws = new Workspace(dev, scratch)) {
            long cols = ws.floats(p.colsFloats());
            long y32 = ws.floats((long) b * c0.cout() * c0.outLen());
            convHalf(c0, b, x, ph("patch_embed.0.weight"), y32, cols);
            if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
                Layers.layerNormHalf(dev, kind, true, y32, p("patch_embed.0.bias"), p("patch_embed.2.weight"),
                        p("patch_embed.2.bias"), out, b, c0.cout(), c0.outLen(), Layers.ACT_NONE);
                return;
            }
            long hidden = ws.floats(p.stemFloats());
            Layers.layerNormHalf(dev, kind, true, y32, p("patch_embed.0.bias"), p("patch_embed.2.weight"),
                    p("patch_embed.2.bias"), hidden, b, c0.cout(), c0.outLen(), Layers.ACT_GELU);
            ModelPlan.Conv c5 = p.conv("patch_embed.5");
            long z32 = ws.floats((long) b * c5.cout() * c5.outLen());
            convHalf(c5, b, hidden, ph("patch_embed.5.weight"), z32, cols);
            Layers.layerNormHalf(dev, kind, true, z32, p("patch_embed.5.bias"), p("patch_embed.7.weight"),
                    p("patch_embed.7.bias"), out, b, c5.cout(), c5.outLen(), Layers.ACT_NONE);
        }
    }

    private boolean downsampleHalf(ModelPlan p, int i, long cur, long other) {
        String pre = "layers." + i + ".downsample.";
        int b = p.batch(), cin = c.dim(i), cout = c.dim(i + 1);
        int[][] g = p.grids();
        int oh = g[i + 1][0], ow = g[i + 1][1];
        long len = (long) oh * ow;
        if (c.downsample() == VMambaConfig.Downsample.V1) {
            Layers.patchMergeHalf(dev, kind, cur, other, b, cin, g[i][0], g[i][1], oh, ow);
            Layers.layerNormHalf(dev, kind, false, other, 0, p(pre + "norm.weight"), p(pre + "norm.bias"), other, b,
                    4L * cin, len, Layers.ACT_NONE);
            Layers.linearHalf(dev, kind, ph(pre + "reduction.weight"), cout, 4 * cin, other, 4L * cin * len, (int) len,
                    cur, false, (long) cout * len, (int) len, (int) len, b);
            return false;
        }
        ModelPlan.Conv cv = p.conv(pre + "1");
        try (Workspace ws = new Workspace(dev, scratch)) {
            long y32 = ws.floats((long) b * cout * len);
            convHalf(cv, b, cur, ph(pre + "1.weight"), y32, ws.floats(p.colsFloats()));
            Layers.layerNormHalf(dev, kind, true, y32, p(pre + "1.bias"), p(pre + "3.weight"), p(pre + "3.bias"), other,
                    b, cout, len, Layers.ACT_NONE);
        }
        return true;
    }

    /** {@link #conv} of 16-bit maps and a 16-bit kernel into a float32 {@code out} (a LayerNorm rounds it next). */
    private void convHalf(ModelPlan.Conv cv, int b, long x, long w, long out32, long cols) {
        long inImage = (long) cv.cin() * cv.h() * cv.w(), outImage = (long) cv.cout() * cv.outLen();
        int len = (int) cv.outLen(), rows = (int) cv.rows();
        for (int b0 = 0; b0 < b; b0 += cv.chunk()) {
            int n = Math.min(cv.chunk(), b - b0);
            Layers.im2colHalf(dev, kind, x + 2L * b0 * inImage, cols, n, cv.cin(), cv.h(), cv.w(), cv.k(), cv.s(),
                    cv.pad(), cv.oh(), cv.ow());
            Layers.linearHalf(dev, kind, w, cv.cout(), rows, cols, cv.colsPerImage(), len, out32 + 4L * b0 * outImage,
                    true, outImage, len, len, n);
        }
    }

    /** The stem into {@code out}; v2's hidden map and the columns are in the scratch (no block runs yet). */
    private void patchEmbed(ModelPlan p, long x, long out) {
        int b = p.batch();
        ModelPlan.Conv c0 = p.conv("patch_embed.0");
        try (Workspace ws = new Workspace(dev, scratch)) {
            long cols = ws.floats(p.colsFloats());
            if (c.patchEmbed() == VMambaConfig.PatchEmbed.V1) {
                conv(c0, b, x, p("patch_embed.0.weight"), out, cols);
                Layers.layerNormEx(dev, out, p("patch_embed.0.bias"), p("patch_embed.2.weight"), p("patch_embed.2.bias"),
                        out, b, c0.cout(), c0.outLen(), Layers.ACT_NONE);
                return;
            }
            long hidden = ws.floats(p.stemFloats());
            conv(c0, b, x, p("patch_embed.0.weight"), hidden, cols);
            Layers.layerNormEx(dev, hidden, p("patch_embed.0.bias"), p("patch_embed.2.weight"), p("patch_embed.2.bias"),
                    hidden, b, c0.cout(), c0.outLen(), Layers.ACT_GELU);
            ModelPlan.Conv c5 = p.conv("patch_embed.5");
            conv(c5, b, hidden, p("patch_embed.5.weight"), out, cols);
            Layers.layerNormEx(dev, out, p("patch_embed.5.bias"), p("patch_embed.7.weight"), p("patch_embed.7.bias"), out,
                    b, c5.cout(), c5.outLen(), Layers.ACT_NONE);
        }
    }

    /**
     * Stage {@code i}'s output in {@code cur} to stage {@code i+1}'s input; true when that is in {@code other}
     * (a convolution), false when back in {@code cur} (PatchMerging2D: gather into other, Linear back).
     */
    private boolean downsample(ModelPlan p, int i, long cur, long other) {
        String pre = "layers." + i + ".downsample.";
        int b = p.batch(), cin = c.dim(i), cout = c.dim(i + 1);
        int[][] g = p.grids();
        int oh = g[i + 1][0], ow = g[i + 1][1];
        long len = (long) oh * ow;
        if (c.downsample() == VMambaConfig.Downsample.V1) {
            Layers.patchMerge(dev, cur, other, b, cin, g[i][0], g[i][1], oh, ow);
            Layers.layerNormEx(dev, other, 0, p(pre + "norm.weight"), p(pre + "norm.bias"), other, b, 4L * cin, len,
                    Layers.ACT_NONE);
            Layers.linear(dev, p(pre + "reduction.weight"), cout, 4 * cin, other, 4L * cin * len, (int) len, cur,
                    (long) cout * len, (int) len, (int) len, b);
            return false;
        }
        ModelPlan.Conv cv = p.conv(pre + "1");
        try (Workspace ws = new Workspace(dev, scratch)) { // the columns, in the scratch between two blocks
            conv(cv, b, cur, p(pre + "1.weight"), other, ws.floats(p.colsFloats()));
        }
        Layers.layerNormEx(dev, other, p(pre + "1.bias"), p(pre + "3.weight"), p(pre + "3.bias"), other, b, cout, len,
                Layers.ACT_NONE);
        return true;
    }

    /** {@code out (b, cout, oh, ow) = W * x} without bias: im2col + GEMM over chunks of {@code cv.chunk()} images. */
    private void conv(ModelPlan.Conv cv, int b, long x, long w, long out, long cols) {
        long inImage = (long) cv.cin() * cv.h() * cv.w(), outImage = (long) cv.cout() * cv.outLen();
        int len = (int) cv.outLen(), rows = (int) cv.rows();
        for (int b0 = 0; b0 < b; b0 += cv.chunk()) {
            int n = Math.min(cv.chunk(), b - b0);
            Layers.im2col(dev, x + 4L * b0 * inImage, cols, n, cv.cin(), cv.h(), cv.w(), cv.k(), cv.s(), cv.pad(),
                    cv.oh(), cv.ow());
            Layers.linear(dev, w, cv.cout(), rows, cols, cv.colsPerImage(), len, out + 4L * b0 * outImage, outImage, len,
                    len, n);
        }
    }

    // ------------------------------------------------------------------ profile

    private StepMarks startProfile() {
        if (!profiling || dev.marks != null) return null; // inside Backend.profileSteps: its marks collect ours
        StepMarks m = new StepMarks();
        dev.marks = m;
        m.mark(dev, StepMarks.BEGIN);
        return m;
    }

    private void endProfile(StepMarks m) {
        if (m == null) return;
        dev.marks = null;
        for (var e : m.collect(1).entrySet()) profileNs.merge(e.getKey(), Math.round(e.getValue() * 1e6), Long::sum);
    }

    /** Device time per layer kind (CUDA events between the steps; each profiled call waits for the device). */
    @Override
    public void profiling(boolean on) {
        synchronized (be) {
            profiling = on;
            profileNs.clear();
        }
    }

    @Override
    public Map<String, Long> profile() {
        synchronized (be) {
            return profiling ? new LinkedHashMap<>(profileNs) : Map.of();
        }
    }

    // ------------------------------------------------------------------ lifetime

    /** Device bytes this model holds: the weights' copy and the two arenas. */
    long deviceBytes() {
        synchronized (be) {
            return weightBuffer.byteSize() + callArena.capacity() + scratch.capacity();
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the CUDA VMamba model " + c.name() + " is closed");
    }

    @Override
    public void close() {
        synchronized (be) {
            if (closed) return;
            closed = true;
            if (!dev.isOpen()) return; // the backend closed first: its context, and every buffer, are gone
            dev.makeCurrent();
            RuntimeException failure = null;
            for (Runnable r : new Runnable[] {callArena::reset, scratch::reset,
                    weightBuffer::free}) {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    if (failure == null) failure = e; else failure.addSuppressed(e);
                }
            }
            if (failure != null) throw failure;
        }
    }
}
