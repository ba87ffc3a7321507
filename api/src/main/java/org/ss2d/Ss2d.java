package org.ss2d;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
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

    public ScanArgs.Result selectiveScan(TensorScope scope, ScanArgs a) {
        ScanPlan plan = planScan(a);
        Backend b = plan.backend();
        ScanShape s = plan.shape();
        Tensor out = alloc(scope, b, a.u(), s.batch(), s.dim(), s.seqlen());
        Tensor last = null;
        try {
            if (a.returnLastState()) last = alloc(scope, b, a.u(), s.batch(), s.dim(), s.dstate());
            Tensor lastState = last;
            run(b, () -> b.selectiveScan(a, s, out, lastState));
            return new ScanArgs.Result(out, lastState);
        } catch (RuntimeException e) {
            out.close();
            if (last != null) last.close();
            throw e;
        }
    }

    /** Runs into caller-provided outputs ({@code lastState} null unless asked for). */
    public void selectiveScanInto(ScanArgs a, Tensor out, Tensor lastState) {
        ScanPlan plan = planScan(a);
        Backend b = plan.backend();
        ScanShape s = plan.shape();
        output("out", out, a.u(), s.batch(), s.dim(), s.seqlen());
        if (a.returnLastState()) {
            output("last_state", lastState, a.u(), s.batch(), s.dim(), s.dstate());
        } else if (lastState != null) {
            throw new Ss2dArgumentException("last_state", "null when return_last_state is false", lastState.describe(), null);
        }
        run(b, () -> b.selectiveScan(a, s, out, lastState));
    }

    // ------------------------------------------------------------------ cross scan / merge

    public Tensor crossScan(TensorScope scope, Tensor x) {
        Validator.crossScan(x, ANY_F32);
        Backend b = choose(x, be -> Validator.crossScan(x, be.capabilities()));
        Tensor out = alloc(scope, b, x, x.dim(0), 4, x.dim(1), x.dim(2) * x.dim(3));
        return runOrClose(b, out, () -> b.crossScan(x, out));
    }

    public void crossScanInto(Tensor x, Tensor out) {
        Validator.crossScan(x, ANY_F32);
        Backend b = choose(x, be -> Validator.crossScan(x, be.capabilities()));
        output("out", out, x, x.dim(0), 4, x.dim(1), x.dim(2) * x.dim(3));
        run(b, () -> b.crossScan(x, out));
    }

    public Tensor crossMerge(TensorScope scope, Tensor ys, long h, long w) {
        Validator.crossMerge(ys, h, w, ANY_F32);
        Backend b = choose(ys, be -> Validator.crossMerge(ys, h, w, be.capabilities()));
        Tensor out = alloc(scope, b, ys, ys.dim(0), ys.dim(2), h, w);
        return runOrClose(b, out, () -> b.crossMerge(ys, out));
    }

    public void crossMergeInto(Tensor ys, Tensor out) {
        if (out == null || out.rank() != 4) {
            throw new Ss2dArgumentException("out", "rank 4 (batch, channels, H, W)", out == null ? "null" : out.describe(), null);
        }
        Validator.crossMerge(ys, out.dim(2), out.dim(3), ANY_F32);
        Backend b = choose(ys, be -> Validator.crossMerge(ys, out.dim(2), out.dim(3), be.capabilities()));
        output("out", out, ys, ys.dim(0), ys.dim(2), out.dim(2), out.dim(3));
        run(b, () -> b.crossMerge(ys, out));
    }

    // ------------------------------------------------------------------ blocks

    public Tensor ss2d(TensorScope scope, SS2DWeights w, Tensor x) {
        Validator.ss2d(w, x, ANY_F32, null);
        Backend b = choose(x, be -> Validator.ss2d(w, x, be.capabilities(), be.name()));
        Tensor out = alloc(scope, b, x, x.shape());
        return runOrClose(b, out, () -> b.ss2d(w, x, out));
    }

    public void ss2dInto(SS2DWeights w, Tensor x, Tensor out) {
        Validator.ss2d(w, x, ANY_F32, null);
        Backend b = choose(x, be -> Validator.ss2d(w, x, be.capabilities(), be.name()));
        output("out", out, x, x.shape());
        run(b, () -> b.ss2d(w, x, out));
    }

    public Tensor vssBlock(TensorScope scope, VSSWeights w, Tensor x) {
        Validator.vssBlock(w, x, ANY_F32, null);
        Backend b = choose(x, be -> Validator.vssBlock(w, x, be.capabilities(), be.name()));
        Tensor out = alloc(scope, b, x, x.shape());
        return runOrClose(b, out, () -> b.vssBlock(w, x, out));
    }

    public void vssBlockInto(VSSWeights w, Tensor x, Tensor out) {
        Validator.vssBlock(w, x, ANY_F32, null);
        Backend b = choose(x, be -> Validator.vssBlock(w, x, be.capabilities(), be.name()));
        output("out", out, x, x.shape());
        run(b, () -> b.vssBlock(w, x, out));
    }

    // ------------------------------------------------------------------ whole models

    /**
     * A whole VMamba model on this facade's backend: the forced one (which fails if it has no model
     * support), or under {@link #auto()} the best available backend that runs models.
     */
    public VMambaModel vmamba(org.ss2d.model.vmamba.VMambaWeights weights) {
        return VMambaModel.of(this, weights);
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

    /** Capabilities used for the backend-independent first pass: every limit open, f32 only. */
    private static final org.ss2d.spi.Capabilities ANY_F32 = new org.ss2d.spi.Capabilities(
            org.ss2d.spi.Capabilities.UNLIMITED, java.util.Set.of(DType.F32), false, "-", 0, false, 0);

    private record ScanPlan(Backend backend, ScanShape shape) {}

    /** Shape errors first, whatever the backend; then the backend, and the sizes its check derived. */
    private ScanPlan planScan(ScanArgs a) {
        Validator.selectiveScan(a, ANY_F32, null);
        ScanShape[] shape = new ScanShape[1]; // choose() returns right after the chosen backend's check
        Backend b = choose(a.u(), be -> shape[0] = Validator.selectiveScan(a, be.capabilities(), be.name()));
        return new ScanPlan(b, shape[0]);
    }

    private Backend choose(Tensor first, Consumer<Backend> check) {
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
        throw firstLimit;
    }

    private static Backend ownerOf(Tensor t) {
        String name = t.deviceMemory().backend();
        return Backends.get(name);
    }

    private Tensor alloc(TensorScope scope, Backend b, Tensor like, long... shape) {
        return like.isHost() ? scope.allocate(DType.F32, shape) : b.allocate(scope, DType.F32, shape);
    }

    private Tensor runOrClose(Backend b, Tensor out, Runnable r) {
        try {
            run(b, r);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    private void run(Backend b, Runnable r) {
        r.run();
        lastBackend = b;
    }

    private static void output(String name, Tensor out, Tensor like, long... shape) {
        if (out == null) {
            throw new Ss2dArgumentException(name, "an output tensor " + Shapes.format(shape), "null", null);
        }
        if (out.isClosed()) {
            throw new IllegalStateException(name + ": " + out.describe() + " was used after it was closed");
        }
        if (out.dtype() != DType.F32 || !Arrays.equals(out.shape(), shape)) {
            throw new Ss2dArgumentException(name, "f32" + Shapes.format(shape), out.describe(), null);
        }
        if (!out.device().equals(like.device())) {
            throw new Ss2dArgumentException(name, "a tensor on " + like.device() + " (as the inputs)", out.describe(), null);
        }
    }
}
