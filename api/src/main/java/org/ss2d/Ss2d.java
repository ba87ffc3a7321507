package org.ss2d;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.MemoryBudget;
import org.ss2d.validate.Ss2dArgumentException;
import org.ss2d.validate.Validator;

/**
 * The public entry point: validates every input once through {@link Validator}, allocates the outputs
 * and hands the work to a backend.
 *
 * <pre>{@code
 * try (TensorScope scope = TensorScope.root("demo")) {
 *     Ss2d ss = Ss2d.auto();
 *     ScanArgs.Result r = ss.selectiveScan(scope, ScanArgs.builder(u, delta, A, B, C)
 *             .D(D).deltaBias(bias).deltaSoftplus(true).returnLastState(true).build());
 * }
 * }</pre>
 *
 * <p>{@link #auto()} takes the best available backend per call and, when a case is over that
 * backend's limit (MAX_DSTATE on CUDA), the next one that can run it, logging why. {@link #on(String)}
 * forces a backend: its limits throw, nothing falls back.
 */
public final class Ss2d {
    private static final System.Logger LOG = System.getLogger("org.ss2d.Ss2d");

    private final Backend forced;
    private volatile Backend lastBackend;

    private Ss2d(Backend forced) {
        this.forced = forced;
    }

    /** Best available backend per call, honouring {@code -Dss2d.backend} / {@code SS2D_BACKEND}. */
    public static Ss2d auto() {
        String f = Backends.forcedName();
        return f == null || f.equalsIgnoreCase("auto") ? new Ss2d(null) : new Ss2d(Backends.get(f));
    }

    /** A forced backend by name ({@code auto} means {@link #auto()}). */
    public static Ss2d on(String name) {
        return name == null || name.equalsIgnoreCase("auto") ? auto() : new Ss2d(Backends.get(name));
    }

    /** A forced backend instance. */
    public static Ss2d on(Backend backend) {
        return new Ss2d(backend);
    }

    /** The forced backend, or the best available one for {@link #auto()}. */
    public Backend backend() {
        return forced != null ? forced : Backends.best();
    }

    /** The backend that ran the last op through this facade (null before the first). */
    public Backend lastBackend() {
        return lastBackend;
    }

    // ------------------------------------------------------------------ selective scan

    /**
     * Selective scan forward into new tensors of {@code scope} (on the inputs' device): {@code out
     * (batch, dim, seqlen)} and, if {@code a.returnLastState()}, {@code lastState (batch, dim, dstate)}.
     *
     * @throws Ss2dArgumentException naming the argument on a wrong shape, dtype, device or a missing tensor
     * @throws LimitExceededException when the forced backend (or every candidate of {@code auto}) cannot
     *         run the case, e.g. dstate above CUDA's MAX_DSTATE
     * @throws IllegalStateException when an input was closed or no backend is available
     */
    public ScanArgs.Result selectiveScan(TensorScope scope, ScanArgs a) {
        Tensor[] o = dispatch(scope, SCAN_OUTPUTS, scanCheck(a), a.u(), scanLaunch(a));
        return new ScanArgs.Result(o[0], o[1]);
    }

    /**
     * Selective scan forward into caller-provided outputs ({@code lastState} null unless
     * {@code a.returnLastState()}) of the shapes above on the inputs' device: {@code out} in
     * {@link ScanArgs#outDtype()}, {@code lastState} float32.
     * Failures as {@link #selectiveScan(TensorScope, ScanArgs)}, also for the outputs.
     */
    public void selectiveScanInto(ScanArgs a, Tensor out, Tensor lastState) {
        dispatchInto(SCAN_OUTPUTS, new Tensor[] {out, lastState}, scanCheck(a), a.u(), scanLaunch(a));
    }

    private static Check scanCheck(ScanArgs a) {
        return (caps, backend) -> {
            ScanShape s = Validator.selectiveScan(a, caps, backend);
            return new Checked("selective_scan", s, be -> MemoryBudget.saturatingAdd(be.scanWorkingBytes(s, a.u().dtype()),
                    be.stagingBytes(a.u(), a.delta(), a.A(), a.B(), a.C(), a.D(), a.z(), a.deltaBias())), a.outDtype(),
                    new long[] {s.batch(), s.dim(), s.seqlen()},
                    a.returnLastState() ? new long[] {s.batch(), s.dim(), s.dstate()} : null);
        };
    }

    private static Launch scanLaunch(ScanArgs a) {
        return (b, c, outs) -> b.selectiveScan(a, c.scan(), outs[0], outs[1]);
    }

    // ------------------------------------------------------------------ selective scan backward

    /**
     * Selective scan backward into new tensors of {@code scope}: the gradients of {@code sum(dout * out) +
     * sum(dLastState * last_state)} with respect to every input of {@code a}, each shaped as its input
     * ({@link ScanGrads}). Nothing from the forward is needed: the backend recomputes the states from the
     * inputs. {@code dLastState} may be given whether or not {@code a.returnLastState()}.
     *
     * @param a          the forward's arguments
     * @param dout       {@code (batch, dim, seqlen)}, in u's dtype, the gradient reaching {@code out}
     * @param dLastState {@code (batch, dim, dstate)} f32, the gradient reaching {@code last_state}, or null
     * @return the gradients (null for an absent optional input)
     * @throws Ss2dArgumentException naming the argument as {@link #selectiveScan}, or {@code dout} / {@code dlast_state}
     * @throws LimitExceededException when the forced backend (or every candidate of {@code auto}) has no scan backward
     *         or cannot run the case
     */
    public ScanGrads selectiveScanBackward(TensorScope scope, ScanArgs a, Tensor dout, Tensor dLastState) {
        return ScanGrads.of(dispatch(scope, ScanGrads.NAMES, scanBackwardCheck(a, dout, dLastState), a.u(),
                scanBackwardLaunch(a, dout, dLastState)));
    }

    /**
     * {@link #selectiveScanBackward(TensorScope, ScanArgs, Tensor, Tensor)} into caller-provided f32 gradients shaped
     * as their inputs, on the inputs' device; a gradient of an absent optional input must be null.
     */
    public void selectiveScanBackwardInto(ScanArgs a, Tensor dout, Tensor dLastState, ScanGrads grads) {
        if (grads == null) throw new Ss2dArgumentException("grads", "the gradient outputs", "null", null);
        dispatchInto(ScanGrads.NAMES, grads.tensors(), scanBackwardCheck(a, dout, dLastState), a.u(),
                scanBackwardLaunch(a, dout, dLastState));
    }

    private static Check scanBackwardCheck(ScanArgs a, Tensor dout, Tensor dLastState) {
        return (caps, backend) -> {
            ScanShape s = Validator.selectiveScanBackward(a, dout, dLastState, caps, backend);
            Tensor[] in = a.tensors();
            long[][] shapes = new long[in.length][];
            for (int i = 0; i < in.length; i++) shapes[i] = in[i] == null ? null : in[i].shape();
            // a device backend also stages host inputs (and dout, dlast_state) on the device for the call
            Tensor[] staged = java.util.Arrays.copyOf(in, in.length + 2);
            staged[in.length] = dout;
            staged[in.length + 1] = dLastState;
            return new Checked("selective_scan_backward", s, be -> MemoryBudget.saturatingAdd(
                    be.scanBackwardWorkingBytes(s), be.stagingBytes(staged)), shapes);
        };
    }

    private static Launch scanBackwardLaunch(ScanArgs a, Tensor dout, Tensor dLastState) {
        return (b, c, outs) -> b.selectiveScanBackward(a, c.scan(), dout, dLastState, ScanGrads.of(outs));
    }

    // ------------------------------------------------------------------ cross scan / merge

    /**
     * VMamba's CrossScan: {@code x (batch, C, H, W)} to a new {@code (batch, 4, C, H*W)} tensor of
     * {@code scope}, the four routes (row-major, column-major, and both reversed).
     *
     * @throws Ss2dArgumentException on a wrong rank, dtype or an empty or oversized x
     */
    public Tensor crossScan(TensorScope scope, Tensor x) {
        return dispatch(scope, OUT, crossScanCheck(x), x, (b, c, outs) -> b.crossScan(x, outs[0]))[0];
    }

    /** {@link #crossScan(TensorScope, Tensor)} into a caller-provided f32 {@code out (batch, 4, C, H*W)}. */
    public void crossScanInto(Tensor x, Tensor out) {
        dispatchInto(OUT, new Tensor[] {out}, crossScanCheck(x), x, (b, c, outs) -> b.crossScan(x, outs[0]));
    }

    private static Check crossScanCheck(Tensor x) {
        return (caps, backend) -> {
            Validator.crossScan(x, caps);
            return new Checked("cross_scan", null, be -> be.stagingBytes(x), new long[] {x.dim(0), 4, x.dim(1), x.dim(2) * x.dim(3)});
        };
    }

    /**
     * VMamba's CrossMerge, the adjoint of {@link #crossScan}: {@code ys (batch, 4, C, h*w)} summed back
     * onto a new {@code (batch, C, h, w)} tensor of {@code scope}.
     *
     * @throws Ss2dArgumentException on a wrong rank or dtype, a grid size below 1 or {@code h*w} not
     *         the length of ys's routes
     */
    public Tensor crossMerge(TensorScope scope, Tensor ys, long h, long w) {
        return dispatch(scope, OUT, crossMergeCheck(ys, h, w), ys, (b, c, outs) -> b.crossMerge(ys, outs[0]))[0];
    }

    /** {@link #crossMerge(TensorScope, Tensor, long, long)} into {@code out (batch, C, H, W)}, whose H, W set the grid. */
    public void crossMergeInto(Tensor ys, Tensor out) {
        Check grid = (caps, backend) -> {
            Validator.crossMergeOutput(out);
            return crossMergeCheck(ys, out.dim(2), out.dim(3)).on(caps, backend);
        };
        dispatchInto(OUT, new Tensor[] {out}, grid, ys, (b, c, outs) -> b.crossMerge(ys, outs[0]));
    }

    private static Check crossMergeCheck(Tensor ys, long h, long w) {
        return (caps, backend) -> {
            Validator.crossMerge(ys, h, w, caps);
            return new Checked("cross_merge", null, be -> be.stagingBytes(ys), new long[] {ys.dim(0), ys.dim(2), h, w});
        };
    }

    /**
     * Backward of {@link #crossScan}: the gradient of x from the gradient {@code dys (batch, 4, C, h*w)} of its four
     * routes. CrossScan is a linear map whose adjoint is {@link #crossMerge}, so this is that op on {@code dys}
     * (a pixel's gradient is the sum of its four route entries); failures as {@link #crossMerge}, naming
     * {@code ys}.
     */
    public Tensor crossScanBackward(TensorScope scope, Tensor dys, long h, long w) {
        return crossMerge(scope, dys, h, w);
    }

    /**
     * Backward of {@link #crossMerge}: the gradient of its four route inputs from {@code dout (batch, C, H, W)},
     * which is {@link #crossScan} of {@code dout} (each route entry receives its pixel's gradient); failures as
     * {@link #crossScan}, naming {@code x}.
     */
    public Tensor crossMergeBackward(TensorScope scope, Tensor dout) {
        return crossScan(scope, dout);
    }

    // ------------------------------------------------------------------ blocks

    /**
     * VMamba's SS2D block ({@code forward_type="v05_noz"}, channels-first) on a float32 {@code x (batch, d_model,
     * H, W)}, into a new tensor of that shape in {@code scope}.
     *
     * @throws Ss2dArgumentException on weights that do not match their config or an x that does not
     *         match the weights
     * @throws LimitExceededException when the backend cannot run the config (e.g. d_state above its limit)
     */
    public Tensor ss2d(TensorScope scope, SS2DWeights w, Tensor x) {
        return ss2d(scope, w, x, DType.F32);
    }

    /**
     * The SS2D block with activations of {@code dtype} (the block's {@code dtype} option): x and the new output in
     * that type, the intermediates between steps held in it, float32 arithmetic inside each step, the float32
     * weights converted by the backend (see docs/models.md, "Half precision", for which are rounded and where).
     *
     * @throws Ss2dArgumentException as {@link #ss2d(TensorScope, SS2DWeights, Tensor)}, or naming {@code x} when it
     *         is not of {@code dtype} ({@code dtype} when that is null)
     * @throws LimitExceededException also when the backend has no blocks in {@code dtype}
     */
    public Tensor ss2d(TensorScope scope, SS2DWeights w, Tensor x, DType dtype) {
        return dispatch(scope, OUT, ss2dCheck(w, x, dtype), x, (b, c, outs) -> b.ss2d(w, x, outs[0]))[0];
    }

    /** {@link #ss2d(TensorScope, SS2DWeights, Tensor)} into a caller-provided f32 {@code out} shaped as x. */
    public void ss2dInto(SS2DWeights w, Tensor x, Tensor out) {
        ss2dInto(w, x, out, DType.F32);
    }

    /** {@link #ss2d(TensorScope, SS2DWeights, Tensor, DType)} into a caller-provided {@code out} of {@code dtype} shaped as x. */
    public void ss2dInto(SS2DWeights w, Tensor x, Tensor out, DType dtype) {
        dispatchInto(OUT, new Tensor[] {out}, ss2dCheck(w, x, dtype), x, (b, c, outs) -> b.ss2d(w, x, outs[0]));
    }

    private static Check ss2dCheck(SS2DWeights w, Tensor x, DType dtype) {
        return (caps, backend) -> {
            Validator.ss2d(w, x, dtype, caps, backend);
            return new Checked("ss2d", null, be -> MemoryBudget.saturatingAdd(
                    be.blockWorkingBytes(w.config(), 0, x.dim(0), x.dim(2), x.dim(3), dtype), be.stagingBytes(x)),
                    dtype, x.shape());
        };
    }

    /**
     * VMamba's VSS block ({@code x + SS2D(LN(x))}, then {@code + MLP(LN2(.))}) on a float32 {@code x (batch,
     * d_model, H, W)}, into a new tensor of that shape in {@code scope}. Failures as {@link #ss2d}.
     */
    public Tensor vssBlock(TensorScope scope, VSSWeights w, Tensor x) {
        return vssBlock(scope, w, x, DType.F32);
    }

    /** The VSS block with activations of {@code dtype}, as {@link #ss2d(TensorScope, SS2DWeights, Tensor, DType)}. */
    public Tensor vssBlock(TensorScope scope, VSSWeights w, Tensor x, DType dtype) {
        return dispatch(scope, OUT, vssCheck(w, x, dtype), x, (b, c, outs) -> b.vssBlock(w, x, outs[0]))[0];
    }

    /** {@link #vssBlock(TensorScope, VSSWeights, Tensor)} into a caller-provided f32 {@code out} shaped as x. */
    public void vssBlockInto(VSSWeights w, Tensor x, Tensor out) {
        vssBlockInto(w, x, out, DType.F32);
    }

    /** {@link #vssBlock(TensorScope, VSSWeights, Tensor, DType)} into a caller-provided {@code out} of {@code dtype}. */
    public void vssBlockInto(VSSWeights w, Tensor x, Tensor out, DType dtype) {
        dispatchInto(OUT, new Tensor[] {out}, vssCheck(w, x, dtype), x, (b, c, outs) -> b.vssBlock(w, x, outs[0]));
    }

    private static Check vssCheck(VSSWeights w, Tensor x, DType dtype) {
        return (caps, backend) -> {
            Validator.vssBlock(w, x, dtype, caps, backend);
            return new Checked("vss_block", null,
                    be -> MemoryBudget.saturatingAdd(be.blockWorkingBytes(w.config(), w.mlpRatio(), x.dim(0), x.dim(2),
                            x.dim(3), dtype), be.stagingBytes(x)), dtype, x.shape());
        };
    }

    // ------------------------------------------------------------------ block backward

    /**
     * The SS2D block's backward: the gradients of {@code sum(dout * out)} with respect to x and every parameter,
     * into new tensors of {@code scope} keyed {@code grad.x} and {@code grad.<VMamba name>} (e.g.
     * {@code grad.in_proj.weight}), each shaped as its input, in the order of {@link SS2DWeights#asMap()} after
     * {@code grad.x}. The forward is recomputed from x: nothing needs saving.
     *
     * @param dout {@code (batch, d_model, H, W)} as x
     * @throws Ss2dArgumentException as {@link #ss2d}, or naming {@code dout}
     * @throws LimitExceededException when the backend (or every candidate of {@code auto}) has no block backward
     */
    public java.util.Map<String, Tensor> ss2dBackward(TensorScope scope, SS2DWeights w, Tensor x, Tensor dout) {
        String[] names = gradNames(w == null ? null : w.asMap());
        Tensor[] t = dispatch(scope, names, blockBackwardCheck(w, null, x, dout), x,
                (b, c, outs) -> b.ss2dBackward(w, x, dout, byName(names, outs)));
        return byName(names, t);
    }

    /** The VSS block's backward, as {@link #ss2dBackward}; its SS2D parameters' gradients are {@code grad.op.<name>}. */
    public java.util.Map<String, Tensor> vssBlockBackward(TensorScope scope, VSSWeights w, Tensor x, Tensor dout) {
        String[] names = gradNames(w == null ? null : w.asMap());
        Tensor[] t = dispatch(scope, names, blockBackwardCheck(null, w, x, dout), x,
                (b, c, outs) -> b.vssBlockBackward(w, x, dout, byName(names, outs)));
        return byName(names, t);
    }

    private static String[] gradNames(java.util.Map<String, Tensor> params) {
        if (params == null) return new String[] {"grad.x"};
        String[] n = new String[params.size() + 1];
        n[0] = "grad.x";
        int i = 1;
        for (String k : params.keySet()) n[i++] = "grad." + k;
        return n;
    }

    private static java.util.Map<String, Tensor> byName(String[] names, Tensor[] t) {
        java.util.Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) m.put(names[i], t[i]);
        return m;
    }

    private static Check blockBackwardCheck(SS2DWeights s, VSSWeights v, Tensor x, Tensor dout) {
        return (caps, backend) -> {
            if (v != null || s == null) Validator.vssBlock(v, x, caps, backend);
            else Validator.ss2d(s, x, caps, backend);
            Validator.blockGradient(dout, x);
            java.util.Map<String, Tensor> params = v != null ? v.asMap() : s.asMap();
            long[][] shapes = new long[params.size() + 1][];
            shapes[0] = x.shape();
            int i = 1;
            for (Tensor p : params.values()) shapes[i++] = p.shape();
            String op = v != null ? "vss_block_backward" : "ss2d_backward";
            org.ss2d.model.SS2DConfig cfg = v != null ? v.config() : s.config();
            double ratio = v != null ? v.mlpRatio() : 0;
            return new Checked(op, null, be -> be.blockBackwardWorkingBytes(cfg, ratio, x.dim(0), x.dim(2), x.dim(3)),
                    shapes);
        };
    }

    // ------------------------------------------------------------------ whole models

    /**
     * A whole VMamba model on this facade's backend: the forced one (which fails if it has no model
     * support), or under {@link #auto()} the best available backend that runs models.
     */
    public VMambaModel vmamba(org.ss2d.model.vmamba.VMambaWeights weights) {
        return VMambaModel.of(this, weights);
    }

    /** {@link #vmamba(org.ss2d.model.vmamba.VMambaWeights)} with activations of {@code dtype} ({@link VMambaModel#of(Ss2d, org.ss2d.model.vmamba.VMambaWeights, DType)}). */
    public VMambaModel vmamba(org.ss2d.model.vmamba.VMambaWeights weights, DType dtype) {
        return VMambaModel.of(this, weights, dtype);
    }

    /** The forced backend, or null under {@link #auto()}. */
    Backend forcedBackend() {
        return forced;
    }

    // ------------------------------------------------------------------ device residency

    /** A copy of a host tensor in the backend's memory (for chaining ops on a device). */
    public Tensor toDevice(TensorScope scope, Tensor host) {
        Backend b = backend();
        Tensor d = b.allocate(scope, host.dtype(), host.shape());
        try {
            b.copy(host, d);
            return d;
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /** A host copy of a tensor (of any backend that this facade can reach). */
    public Tensor toHost(TensorScope scope, Tensor t) {
        Tensor h = scope.allocate(t.name(), t.dtype(), t.shape());
        try {
            (t.isHost() ? backend() : ownerOf(t)).copy(t, h);
            return h;
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ internals

    /**
     * Capabilities used for the backend-independent first pass: every limit open, every dtype (the
     * validators hold each op to the dtypes its contract allows).
     */
    private static final org.ss2d.spi.Capabilities ANY = new org.ss2d.spi.Capabilities(
            org.ss2d.spi.Capabilities.UNLIMITED, java.util.EnumSet.allOf(DType.class), false, "-", 0, false, 0,
            java.util.EnumSet.allOf(DType.class));

    private static final String[] OUT = {"out"};
    private static final String[] SCAN_OUTPUTS = {"out", "last_state"};

    /**
     * What an op's checks found: the shapes of its outputs (null for one not asked for), for the
     * selective scan the sizes its kernels need, and the working memory a backend takes for it (null: none).
     */
    private record Checked(String op, ScanShape scan, ToLongFunction<Backend> working, DType firstDtype,
                           long[]... outputs) {
        /** Outputs all float32. */
        Checked(String op, ScanShape scan, ToLongFunction<Backend> working, long[]... outputs) {
            this(op, scan, working, DType.F32, outputs);
        }

        /** The dtype of output {@code i}: the first may be a half (a half scan's or block's out), the rest are float32. */
        DType dtype(int i) {
            return i == 0 ? firstDtype : DType.F32;
        }
    }

    /** An op's checks through {@link Validator} against {@code caps}; {@code backend} is null for the first pass. */
    @FunctionalInterface
    private interface Check {
        Checked on(org.ss2d.spi.Capabilities caps, String backend);
    }

    /** The backend call of an op, on outputs that exist and were checked. */
    @FunctionalInterface
    private interface Launch {
        void run(Backend b, Checked checked, Tensor[] outputs);
    }

    /** An op into new outputs of {@code scope}; they are closed again if the op fails. */
    private Tensor[] dispatch(TensorScope scope, String[] names, Check check, Tensor first, Launch launch) {
        Set<Backend> failed = new HashSet<>();
        Plan p = plan(check, first, names, null, failed);
        long[][] shapes = p.checked().outputs();
        Tensor[] outs = new Tensor[names.length];
        try {
            for (int i = 0; i < outs.length; i++) {
                if (shapes[i] != null) outs[i] = alloc(scope, p.backend(), first, p.checked().dtype(i), shapes[i]);
            }
            runOrMoveOn(p, outs, launch, () -> plan(check, first, names, null, failed), failed, first);
            return outs;
        } catch (RuntimeException e) {
            for (Tensor t : outs) if (t != null) t.close();
            throw e;
        }
    }

    /** An op into caller-provided outputs, each checked by {@link Validator#output} before the backend runs. */
    private void dispatchInto(String[] names, Tensor[] outs, Check check, Tensor first, Launch launch) {
        Set<Backend> failed = new HashSet<>();
        Plan p = plan(check, first, names, outs, failed);
        long[][] shapes = p.checked().outputs();
        for (int i = 0; i < outs.length; i++) {
            if (shapes[i] != null) {
                Validator.output(names[i], outs[i], first, "the inputs", p.checked().dtype(i), shapes[i]);
            } else {
                Validator.absentOutput(names[i], outs[i], names[i].startsWith("grad.")
                        ? "the input " + names[i].substring(5) + " is absent" : "return_last_state is false");
            }
        }
        runOrMoveOn(p, outs, launch, () -> plan(check, first, names, outs, failed), failed, first);
    }

    /**
     * Runs the planned op; under {@code auto} with host inputs, a backend that fails while running (a device fault:
     * a launch error, a lost context; not an argument error) is logged and the op runs again on the next candidate,
     * whose kernels write every output in full. A forced backend, or inputs on a device, never move.
     */
    private void runOrMoveOn(Plan p, Tensor[] outs, Launch launch, java.util.function.Supplier<Plan> replan,
                             Set<Backend> failed, Tensor first) {
        while (true) {
            try {
                run(p, outs, launch);
                return;
            } catch (Ss2dArgumentException e) {
                throw e;
            } catch (RuntimeException e) {
                if (forced != null || !first.isHost()) throw e;
                failed.add(p.backend());
                Plan next;
                try {
                    next = replan.get();
                } catch (RuntimeException none) {
                    e.addSuppressed(none);
                    throw e;
                }
                LOG.log(System.Logger.Level.WARNING, "auto: " + p.checked().op() + " failed on " + p.backend().name()
                        + " (" + e.getMessage() + "); running it on " + next.backend().name());
                p = next;
            }
        }
    }

    private record Plan(Backend backend, Checked checked) {}

    /**
     * Shape errors first, whatever the backend; then the backend, and what its own check found. A backend's check
     * includes the memory the op will take there (the outputs it allocates, or the staging of caller-provided
     * {@code into} outputs, plus its working memory and the staging of its inputs) against its budget
     * ({@link MemoryBudget}): over it is a LimitExceededException, so {@code auto} tries the next one.
     */
    private Plan plan(Check check, Tensor first, String[] names, Tensor[] into, Set<Backend> failed) {
        boolean allocates = into == null;
        check.on(ANY, null);
        Checked[] found = new Checked[1]; // choose() returns right after the chosen backend's check
        Backend b = choose(first, failed, be -> {
            Checked c = check.on(be.capabilities(), be.name());
            Object[] parts = new Object[2 * names.length + 4];
            for (int i = 0; i < names.length; i++) {
                parts[2 * i] = names[i];
                parts[2 * i + 1] = allocates && c.outputs()[i] != null ? bytes(c.outputs()[i], c.dtype(i)) : 0L;
            }
            parts[2 * names.length] = "workspace";
            parts[2 * names.length + 1] = c.working() == null ? 0L : c.working().applyAsLong(be);
            parts[2 * names.length + 2] = "output staging";
            parts[2 * names.length + 3] = allocates ? 0L : be.stagingBytes(into);
            MemoryBudget.check(c.op(), be, parts);
            found[0] = c;
        });
        return new Plan(b, found[0]);
    }

    private static long bytes(long[] shape, DType dtype) {
        return MemoryBudget.product(MemoryBudget.product(shape), dtype.byteSize());
    }

    private void run(Plan p, Tensor[] outs, Launch launch) {
        try {
            launch.run(p.backend(), p.checked(), outs);
        } catch (OutOfMemoryError | org.apache.arrow.memory.OutOfMemoryException e) {
            throw outOfMemory(p.backend(), e);
        }
        lastBackend = p.backend();
    }

    /**
     * A failed allocation (heap or off-heap) as the engine's exception: the op is over what this JVM can give; the
     * JVM itself is fine (the allocation that failed holds nothing).
     */
    private static LimitExceededException outOfMemory(Backend b, Throwable e) {
        LimitExceededException x = new LimitExceededException("memory", "the " + b.name()
                + " backend could not allocate the op's memory (" + e.getMessage()
                + "); use smaller sizes, or give the JVM more (-Xmx, -XX:MaxDirectMemorySize)");
        x.initCause(e);
        return x;
    }

    private Backend choose(Tensor first, Set<Backend> failed, Consumer<Backend> check) {
        if (!first.isHost()) {
            Backend owner = ownerOf(first);
            if (forced != null && forced != owner) {
                throw new Ss2dArgumentException("backend", "the backend that holds the inputs (" + owner.name() + ")",
                        forced.name(), null);
            }
            check.accept(owner);
            return owner;
        }
        if (forced != null) {
            check.accept(forced);
            return forced;
        }
        List<Backend> candidates = Backends.autoCandidates();
        if (candidates.isEmpty()) {
            throw new IllegalStateException("no compute backend is available: " + Backends.reasons());
        }
        LimitExceededException firstLimit = null;
        for (Backend b : candidates) {
            if (failed.contains(b)) continue;
            try {
                check.accept(b);
                if (firstLimit != null) {
                    LOG.log(System.Logger.Level.INFO, "auto: " + firstLimit.getMessage() + "; running on " + b.name());
                }
                return b;
            } catch (LimitExceededException e) {
                if (firstLimit == null) firstLimit = e;
            }
        }
        if (firstLimit == null) {
            throw new IllegalStateException("no other compute backend is available after " + failed.stream()
                    .map(Backend::name).toList() + " failed: " + Backends.reasons());
        }
        throw firstLimit;
    }

    private static Backend ownerOf(Tensor t) {
        String name = t.deviceMemory().backend();
        return Backends.get(name);
    }

    private Tensor alloc(TensorScope scope, Backend b, Tensor like, DType dtype, long... shape) {
        try {
            return like.isHost() ? scope.allocate(dtype, shape) : b.allocate(scope, dtype, shape);
        } catch (OutOfMemoryError | org.apache.arrow.memory.OutOfMemoryException e) {
            throw outOfMemory(b, e);
        }
    }
}
