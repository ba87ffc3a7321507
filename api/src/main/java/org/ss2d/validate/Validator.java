package org.ss2d.validate;

import java.util.Map;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaStateDicts;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.Tensor;

/**
 * The one place that checks every op's input, for every backend. Each failure is an
 * {@link Ss2dArgumentException} naming the argument, what was expected and what was found; limits of
 * the chosen backend are {@link LimitExceededException}s. Kernels behind this assume valid input.
 */
public final class Validator {
    private Validator() {}

    /** Largest index a backend must handle per axis: kernels use int sizes and long offsets. */
    public static final long MAX_AXIS = Integer.MAX_VALUE;

    // ------------------------------------------------------------------ selective scan

    /** Checks a selective scan against the op's contract and {@code caps}; returns its sizes. */
    public static ScanShape selectiveScan(ScanArgs a, Capabilities caps, String backend) {
        Tensor u = a.u();
        required("u", u);
        rank("u", u, 3, "(batch, dim, seqlen)");
        nonEmpty("u", u);
        int batch = axis("u", u, 0), dim = axis("u", u, 1), seqlen = axis("u", u, 2);
        sameDevice(a);

        required("delta", a.delta());
        shape("delta", a.delta(), "(batch, dim, seqlen)", batch, dim, seqlen);

        required("A", a.A());
        rank("A", a.A(), 2, "(dim, dstate)");
        if (a.A().dim(0) != dim) {
            throw new Ss2dArgumentException("A", "shape (dim=" + dim + ", dstate)", a.A().describe(), null);
        }
        if (a.A().dim(1) < 1) {
            throw new Ss2dArgumentException("A", "dstate >= 1", "dstate=" + a.A().dim(1) + " in " + a.A().describe(), null);
        }
        int dstate = axis("A", a.A(), 1);

        BCMode bMode = bcMode("B", a.B(), batch, dim, dstate, seqlen);
        BCMode cMode = bcMode("C", a.C(), batch, dim, dstate, seqlen);
        int gB = bMode == BCMode.GROUPED ? (int) a.B().dim(1) : 1;
        int gC = cMode == BCMode.GROUPED ? (int) a.C().dim(1) : 1;
        if (gB != gC) {
            throw new Ss2dArgumentException("C", "the same number of groups as B (" + gB + ")",
                    gC + " group(s) in " + a.C().describe() + " (B is " + a.B().describe() + ")", null);
        }
        int groups = gB;
        if (dim % groups != 0) {
            throw new Ss2dArgumentException("B", "groups dividing dim=" + dim, groups + " groups (dim % groups = "
                    + dim % groups + ")", null);
        }

        optional("D", a.D(), dim);
        optional("delta_bias", a.deltaBias(), dim);
        if (a.z() != null) {
            shape("z", a.z(), "(batch, dim, seqlen)", batch, dim, seqlen);
        }
        scanDtypes(a, bMode, cMode, caps, backend);

        if (dstate > caps.maxDstate()) {
            throw new LimitExceededException("A", "dstate=" + dstate + " exceeds the " + displayName(backend)
                    + " backend's MAX_DSTATE=" + caps.maxDstate());
        }
        return new ScanShape(batch, dim, seqlen, dstate, groups, bMode, cMode);
    }

    /**
     * Checks a selective scan backward: the forward's arguments as {@link #selectiveScan}, then {@code dout}
     * {@code (batch, dim, seqlen)} in u's dtype on u's device, and the optional {@code dLastState}
     * {@code (batch, dim, dstate)} (the gradient reaching {@code last_state}; null: none).
     *
     * @return the scan's sizes
     * @throws Ss2dArgumentException naming {@code dout} or {@code dlast_state} when missing or mis-shaped
     */
    public static ScanShape selectiveScanBackward(ScanArgs a, Tensor dout, Tensor dLastState, Capabilities caps,
                                                  String backend) {
        ScanShape s = selectiveScan(a, caps, backend);
        if (a.u().dtype() != DType.F32) {
            // the backward kernels read float32; half gradients (in the input dtype) are still to come
            throw new LimitExceededException("u", "the selective scan backward takes float32 inputs on the "
                    + displayName(backend) + " backend, found " + a.u().dtype().arrowName() + " " + a.u().describe());
        }
        required("dout", dout);
        shape("dout", dout, "(batch, dim, seqlen)", s.batch(), s.dim(), s.seqlen());
        sameDtype("dout", dout, a.u());
        sameDevice("dout", dout, a.u());
        if (dLastState != null) {
            required("dlast_state", dLastState);
            dtype("dlast_state", dLastState, caps);
            shape("dlast_state", dLastState, "(batch, dim, dstate)", s.batch(), s.dim(), s.dstate());
            sameDevice("dlast_state", dLastState, a.u());
        }
        return s;
    }

    private static void sameDevice(String name, Tensor t, Tensor u) {
        if (!t.device().equals(u.device())) {
            throw new Ss2dArgumentException(name, "a tensor on " + u.device() + " (as " + (u.rank() == 4 ? "x" : "u")
                    + ")", t.describe(), null);
        }
    }

    /**
     * mamba's dtype rules: u, delta, z and variable or grouped B, C share one dtype, the input dtype
     * (float32, float16 or bfloat16); A, D, delta_bias and constant B, C are float32 whatever it is. The
     * input dtype is u's when delta agrees, else float32, so that a lone half tensor is the one named.
     * A rule broken is the caller's fault; an input dtype the backend lacks is that backend's limit
     * (auto tries the next one).
     */
    private static void scanDtypes(ScanArgs a, BCMode bMode, BCMode cMode, Capabilities caps, String backend) {
        DType in = a.u().dtype() == a.delta().dtype() ? a.u().dtype() : DType.F32;
        Tensor[] ts = a.tensors();
        for (int i = 0; i < ts.length; i++) {
            Tensor t = ts[i];
            if (t == null) continue;
            String name = ScanArgs.NAMES[i];
            boolean activation = switch (name) {
                case "u", "delta", "z" -> true;
                case "B" -> bMode != BCMode.CONSTANT;
                case "C" -> cMode != BCMode.CONSTANT;
                default -> false;
            };
            if (activation && t.dtype() != in) {
                throw new Ss2dArgumentException(name, "dtype " + in.arrowName()
                        + " (u, delta, z and variable B, C share one dtype: float32, float16 or bfloat16)",
                        t.dtype().arrowName() + " " + t.describe(), null);
            }
            if (!activation && t.dtype() != DType.F32) {
                throw new Ss2dArgumentException(name, "dtype float32 (A, D, delta_bias and constant B, C are float32"
                        + " whatever the input dtype)", t.dtype().arrowName() + " " + t.describe(), null);
            }
        }
        if (!caps.dtypes().contains(in)) {
            throw new LimitExceededException("u", "input dtype " + in.arrowName() + " is not supported by the "
                    + displayName(backend) + " backend (dtypes " + caps.dtypes() + ")");
        }
    }

    private static BCMode bcMode(String name, Tensor t, int batch, int dim, int dstate, int seqlen) {
        required(name, t);
        switch (t.rank()) {
            case 2 -> {
                shape(name, t, "constant (dim, dstate)", dim, dstate);
                return BCMode.CONSTANT;
            }
            case 3 -> {
                shape(name, t, "variable (batch, dstate, seqlen)", batch, dstate, seqlen);
                return BCMode.VARIABLE;
            }
            case 4 -> {
                if (t.dim(1) < 1) {
                    throw new Ss2dArgumentException(name, "groups >= 1 in (batch, groups, dstate, seqlen)", t.describe(), null);
                }
                shape(name, t, "grouped (batch, groups, dstate, seqlen)", batch, t.dim(1), dstate, seqlen);
                return BCMode.GROUPED;
            }
            default -> throw new Ss2dArgumentException(name,
                    "rank 2 (dim, dstate), 3 (batch, dstate, seqlen) or 4 (batch, groups, dstate, seqlen)",
                    "rank " + t.rank() + " " + t.describe(), null);
        }
    }

    // ------------------------------------------------------------------ cross scan / merge

    /** {@code x (batch, C, H, W)}. */
    public static void crossScan(Tensor x, Capabilities caps) {
        required("x", x);
        rank("x", x, 4, "(batch, channels, H, W)");
        dtype("x", x, caps);
        nonEmpty("x", x);
        for (int i = 0; i < 4; i++) axis("x", x, i);
        if (Math.multiplyHigh(x.dim(2), x.dim(3)) != 0 || x.dim(2) * x.dim(3) > MAX_AXIS) {
            throw new Ss2dArgumentException("x", "H*W <= " + MAX_AXIS, "H*W = " + x.dim(2) + "*" + x.dim(3), null);
        }
    }

    /** {@code ys (batch, 4, C, H*W)} merged onto an {@code H x W} grid. */
    public static void crossMerge(Tensor ys, long h, long w, Capabilities caps) {
        required("ys", ys);
        rank("ys", ys, 4, "(batch, 4, channels, H*W)");
        dtype("ys", ys, caps);
        nonEmpty("ys", ys);
        if (h < 1 || w < 1) {
            throw new Ss2dArgumentException(h < 1 ? "H" : "W", "a grid size >= 1", "H=" + h + ", W=" + w, null);
        }
        if (ys.dim(1) != 4) {
            throw new Ss2dArgumentException("ys", "4 routes on axis 1", ys.dim(1) + " in " + ys.describe(), null);
        }
        if (ys.dim(3) != h * w) {
            throw new Ss2dArgumentException("ys", "H*W = " + h + "*" + w + " = " + h * w + " steps on axis 3",
                    ys.dim(3) + " in " + ys.describe(), null);
        }
    }

    // ------------------------------------------------------------------ SS2D / VSS

    /**
     * Checks an SS2D block's sizes.
     *
     * @param c the config
     * @throws Ss2dArgumentException naming the first size that is not positive
     */
    public static void ss2dConfig(SS2DConfig c) {
        positive("d_model", c.dModel());
        positive("d_state", c.dState());
        positive("dt_rank", c.dtRank());
        if (!Double.isFinite(c.ssmRatio()) || c.ssmRatio() <= 0) {
            throw new Ss2dArgumentException("ssm_ratio", "a finite number > 0", Double.toString(c.ssmRatio()), null);
        }
        if (c.dInner() < 1) {
            throw new Ss2dArgumentException("ssm_ratio", "int(ssm_ratio * d_model) >= 1",
                    "int(" + c.ssmRatio() + " * " + c.dModel() + ") = " + c.dInner(), null);
        }
        if (c.dConv() < 1 || c.dConv() % 2 == 0) {
            throw new Ss2dArgumentException("d_conv", "an odd kernel size >= 1 (padding (k-1)/2 keeps H and W)",
                    Integer.toString(c.dConv()), null);
        }
    }

    /** Checks weights against their config and a float32 {@code x (batch, d_model, H, W)}; throws on the first fault. */
    public static void ss2d(SS2DWeights w, Tensor x, Capabilities caps, String backend) {
        ss2d(w, x, DType.F32, caps, backend);
    }

    /**
     * Checks an SS2D block call whose activations are of {@code dtype} (the {@code dtype} option): weights against
     * their config (float32 whatever the dtype: a backend converts them itself), x against the weights and the
     * option, and the option against the backend.
     *
     * @throws Ss2dArgumentException naming the first argument that does not fit ({@code dtype}, {@code x}, a weight)
     * @throws LimitExceededException when the backend cannot run the block (d_state, or blocks in that dtype)
     */
    public static void ss2d(SS2DWeights w, Tensor x, DType dtype, Capabilities caps, String backend) {
        required("weights", w);
        ss2dConfig(w.config());
        weights("", SS2DWeights.expectedShapes(w.config()), w.asMap(), caps);
        blockInput(x, w.config(), dtype, caps, backend);
        if (w.config().dState() > caps.maxDstate()) {
            throw new LimitExceededException("d_state", "dstate=" + w.config().dState() + " exceeds the "
                    + displayName(backend) + " backend's MAX_DSTATE=" + caps.maxDstate());
        }
    }

    /**
     * Checks a VSS block call: its weights against their config and x against the weights.
     *
     * @param w       the block's weights
     * @param x       {@code (batch, d_model, H, W)}
     * @param caps    the backend's capabilities
     * @param backend the backend's name for messages, or null for the backend-independent pass
     * @throws Ss2dArgumentException naming the first argument that does not fit
     * @throws LimitExceededException when the backend cannot run the block
     */
    public static void vssBlock(VSSWeights w, Tensor x, Capabilities caps, String backend) {
        vssBlock(w, x, DType.F32, caps, backend);
    }

    /** As {@link #vssBlock(VSSWeights, Tensor, Capabilities, String)} with activations of {@code dtype}, as {@link #ss2d(SS2DWeights, Tensor, DType, Capabilities, String)}. */
    public static void vssBlock(VSSWeights w, Tensor x, DType dtype, Capabilities caps, String backend) {
        required("weights", w);
        ss2dConfig(w.config());
        if (!Double.isFinite(w.mlpRatio()) || w.mlpRatio() <= 0 || VSSWeights.hidden(w.config(), w.mlpRatio()) < 1) {
            throw new Ss2dArgumentException("mlp_ratio", "a finite number > 0 with int(d_model * mlp_ratio) >= 1",
                    Double.toString(w.mlpRatio()), null);
        }
        weights("", VSSWeights.expectedShapes(w.config(), w.mlpRatio()), w.asMap(), caps);
        blockInput(x, w.config(), dtype, caps, backend);
        if (w.config().dState() > caps.maxDstate()) {
            throw new LimitExceededException("d_state", "dstate=" + w.config().dState() + " exceeds the "
                    + displayName(backend) + " backend's MAX_DSTATE=" + caps.maxDstate());
        }
    }

    /**
     * The gradient reaching a block's output: present, open, shaped, typed and placed as {@code x}.
     *
     * @throws Ss2dArgumentException naming {@code dout}
     */
    public static void blockGradient(Tensor dout, Tensor x) {
        required("dout", dout);
        shape("dout", dout, "(batch, d_model, H, W) as x", x.shape());
        sameDtype("dout", dout, x);
        sameDevice("dout", dout, x);
    }

    /** f32 only: what weight loaders hand out, before any backend is chosen. */
    private static final Capabilities WEIGHTS_F32 = new Capabilities(Capabilities.UNLIMITED,
            java.util.Set.of(DType.F32), false, "-", 0, false, 0);

    /**
     * Checks weights alone against their config (every name present, shapes, f32), for loaders that
     * have no input yet. {@code prefix} is only used in messages, so that they name the key as it
     * appears in the checkpoint (e.g. {@code layers.0.blocks.1.op.in_proj.weight}).
     */
    public static void ss2dWeights(SS2DWeights w, String prefix) {
        required("weights", w);
        ss2dConfig(w.config());
        weights(prefix == null ? "" : prefix, SS2DWeights.expectedShapes(w.config()), w.asMap(), WEIGHTS_F32);
    }

    /** As {@link #ss2dWeights}, for a VSS block (its SS2D parameters under {@code op.}). */
    public static void vssWeights(VSSWeights w, String prefix) {
        required("weights", w);
        ss2dConfig(w.config());
        if (!Double.isFinite(w.mlpRatio()) || w.mlpRatio() <= 0 || VSSWeights.hidden(w.config(), w.mlpRatio()) < 1) {
            throw new Ss2dArgumentException("mlp_ratio", "a finite number > 0 with int(d_model * mlp_ratio) >= 1",
                    Double.toString(w.mlpRatio()), null);
        }
        weights(prefix == null ? "" : prefix, VSSWeights.expectedShapes(w.config(), w.mlpRatio()), w.asMap(),
                WEIGHTS_F32);
    }

    // ------------------------------------------------------------------ VMamba models

    /** A whole model's weights: a sane config, every parameter present, float32, host, of its shape. */
    public static void vmambaWeights(VMambaWeights w) {
        required("weights", w);
        VMambaStateDicts.checkConfig(w.config());
        var want = VMambaWeights.expectedShapes(w.config());
        for (String n : want.keySet()) required(n, w.get(n));
        w.checkShapes();
        for (var e : w.params().entrySet()) {
            if (!e.getValue().isHost()) {
                throw new Ss2dArgumentException(e.getKey(), "a host tensor (the backend uploads weights itself)",
                        e.getValue().describe(), null);
            }
        }
    }

    /**
     * A model input {@code x (batch, in_chans, H, W)}, large enough that every stage map has at least one
     * pixel; returns the four stage grids {@code [stage][H, W]}.
     */
    public static int[][] vmambaInput(VMambaConfig c, Tensor x, Capabilities caps) {
        return vmambaInput(c, x, DType.F32, caps, null);
    }

    /** As {@link #vmambaInput(VMambaConfig, Tensor, Capabilities)} for a model whose activations are of {@code dtype}. */
    public static int[][] vmambaInput(VMambaConfig c, Tensor x, DType dtype, Capabilities caps, String backend) {
        required("x", x);
        rank("x", x, 4, "(batch, in_chans, H, W)");
        activationDtype("x", x, dtype, caps, backend);
        nonEmpty("x", x);
        for (int i = 0; i < 4; i++) axis("x", x, i);
        if (x.dim(1) != c.inChans()) {
            throw new Ss2dArgumentException("x", c.inChans() + " channels on axis 1 (batch, in_chans, H, W)", x.describe(), null);
        }
        int[][] g = c.grids(x.dim(2), x.dim(3));
        for (int i = 0; i < g.length; i++) {
            if (g[i][0] < 1 || g[i][1] < 1) {
                throw new Ss2dArgumentException("x", "H and W large enough for " + g.length + " stages of "
                        + c.name() + " (stage " + i + " would be " + g[i][0] + "x" + g[i][1] + ")", x.describe(), null);
            }
        }
        return g;
    }

    private static void blockInput(Tensor x, SS2DConfig c, DType dtype, Capabilities caps, String backend) {
        required("x", x);
        rank("x", x, 4, "(batch, d_model, H, W)");
        activationDtype("x", x, dtype, caps, backend);
        nonEmpty("x", x);
        if (x.dim(1) != c.dModel()) {
            throw new Ss2dArgumentException("x", "d_model=" + c.dModel() + " channels on axis 1", x.describe(), null);
        }
        for (int i = 0; i < 4; i++) axis("x", x, i);
    }

    /**
     * The {@code dtype} option of the blocks and models: present, and a dtype the backend runs them in (float32
     * always; the half types where {@link Capabilities#blockDtypes()} has them).
     *
     * @param backend the backend's name for messages, or null for the backend-independent pass
     * @throws Ss2dArgumentException when {@code dtype} is null
     * @throws LimitExceededException when the backend has no blocks or models in that dtype
     */
    public static void blockDtype(DType dtype, Capabilities caps, String backend) {
        if (dtype == null) {
            throw new Ss2dArgumentException("dtype", "float32, float16 or bfloat16", "null", null);
        }
        if (!caps.blockDtypes().contains(dtype)) {
            throw new LimitExceededException("dtype", "the " + displayName(backend) + " backend does not run SS2D/VSS"
                    + " blocks or VMamba models in " + dtype.arrowName() + " (block dtypes " + names(caps.blockDtypes()) + ")");
        }
    }

    /** A block's or model's input in the dtype option's type (the facade never converts the caller's tensors). */
    private static void activationDtype(String name, Tensor x, DType dtype, Capabilities caps, String backend) {
        blockDtype(dtype, caps, backend);
        if (x.dtype() != dtype) {
            throw new Ss2dArgumentException(name, "dtype " + dtype.arrowName() + " (the dtype option)",
                    x.dtype().arrowName() + " " + x.describe(), null);
        }
    }

    private static String names(java.util.Set<DType> ds) {
        return ds.stream().sorted().map(DType::arrowName).toList().toString();
    }

    private static void weights(String prefix, Map<String, long[]> want, Map<String, Tensor> have, Capabilities caps) {
        for (var e : want.entrySet()) {
            String n = prefix + e.getKey();
            Tensor t = have.get(e.getKey());
            required(n, t);
            dtype(n, t, caps);
            if (!java.util.Arrays.equals(t.shape(), e.getValue())) {
                throw new Ss2dArgumentException(n, "shape " + Shapes.format(e.getValue()), t.describe(), null);
            }
        }
        for (String n : have.keySet()) {
            if (!want.containsKey(n)) {
                throw new Ss2dArgumentException(prefix + n, "no such parameter for this config",
                        have.get(n) == null ? "null" : have.get(n).describe(), null);
            }
        }
    }

    // ------------------------------------------------------------------ caller-provided outputs

    /**
     * An output the caller provides: present, open, f32 of exactly {@code shape}, on the same device
     * as {@code like} (called {@code likeName} in the message, e.g. "the inputs" or "x").
     *
     * @throws Ss2dArgumentException naming {@code name} when missing or of the wrong shape, dtype or device
     * @throws IllegalStateException when it was closed
     */
    public static void output(String name, Tensor out, Tensor like, String likeName, long... shape) {
        output(name, out, like, likeName, DType.F32, shape);
    }

    /**
     * As {@link #output(String, Tensor, Tensor, String, long...)}, for an output of {@code dtype} (a half
     * scan's {@code out}).
     */
    public static void output(String name, Tensor out, Tensor like, String likeName, DType dtype, long... shape) {
        if (out == null) {
            throw new Ss2dArgumentException(name, "an output tensor " + Shapes.format(shape), "null", null);
        }
        if (out.isClosed()) {
            throw new IllegalStateException(name + ": " + out.describe() + " was used after it was closed");
        }
        if (out.dtype() != dtype || !java.util.Arrays.equals(out.shape(), shape)) {
            throw new Ss2dArgumentException(name, dtype.name().toLowerCase(java.util.Locale.ROOT) + Shapes.format(shape),
                    out.describe(), null);
        }
        if (!out.device().equals(like.device())) {
            throw new Ss2dArgumentException(name, "a tensor on " + like.device() + " (as " + likeName + ")",
                    out.describe(), null);
        }
    }

    /**
     * An output the call did not ask for must be absent (only the scan's last state is optional, so
     * {@code when} is the condition that leaves it out, e.g. {@code return_last_state is false}).
     *
     * @throws Ss2dArgumentException when {@code t} is not null
     */
    public static void absentOutput(String name, Tensor t, String when) {
        if (t != null) {
            throw new Ss2dArgumentException(name, "null when " + when, t.describe(), null);
        }
    }

    /**
     * The output of a cross merge into a caller's tensor, whose last two axes give the grid.
     *
     * @throws Ss2dArgumentException when it is missing or not of rank 4
     */
    public static void crossMergeOutput(Tensor out) {
        if (out == null || out.rank() != 4) {
            throw new Ss2dArgumentException("out", "rank 4 (batch, channels, H, W)", out == null ? "null" : out.describe(), null);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** {@code cuda} is shown as {@code CUDA}, {@code cpu} as {@code CPU}: the names users know. */
    public static String displayName(String backend) {
        return backend == null ? "selected" : backend.toUpperCase(java.util.Locale.ROOT);
    }

    private static void required(String name, Object t) {
        if (t == null) {
            throw new Ss2dArgumentException(name, "a tensor", "null (missing)", null);
        }
        if (t instanceof Tensor tensor && tensor.isClosed()) {
            throw new IllegalStateException(name + ": " + tensor.describe() + " was used after it was closed");
        }
    }

    private static void rank(String name, Tensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new Ss2dArgumentException(name, "rank " + rank + " " + layout, "rank " + t.rank() + " " + t.describe(), null);
        }
    }

    /** Ops other than the selective scan take float32 tensors only (whatever else the backend announces). */
    private static void dtype(String name, Tensor t, Capabilities caps) {
        if (t.dtype() != DType.F32 || !caps.dtypes().contains(t.dtype())) {
            throw new Ss2dArgumentException(name, "dtype in " + (caps.dtypes().contains(DType.F32) ? "[F32]" : caps.dtypes()),
                    t.describe(), null);
        }
    }

    private static void sameDtype(String name, Tensor t, Tensor u) {
        if (t.dtype() != u.dtype()) {
            throw new Ss2dArgumentException(name, "dtype " + u.dtype() + " (as " + (u.rank() == 4 ? "x" : "u") + ")",
                    t.describe(), null);
        }
    }

    private static void nonEmpty(String name, Tensor t) {
        for (int i = 0; i < t.rank(); i++) {
            if (t.dim(i) < 1) {
                throw new Ss2dArgumentException(name, "every dimension >= 1", "dimension " + i + " is " + t.dim(i)
                        + " in " + t.describe(), null);
            }
        }
    }

    private static int axis(String name, Tensor t, int i) {
        if (t.dim(i) > MAX_AXIS) {
            throw new Ss2dArgumentException(name, "dimension " + i + " <= " + MAX_AXIS, t.describe(), Long.toString(MAX_AXIS));
        }
        return (int) t.dim(i);
    }

    private static void shape(String name, Tensor t, String layout, long... dims) {
        if (!java.util.Arrays.equals(t.shape(), dims)) {
            throw new Ss2dArgumentException(name, "shape " + layout + " = " + Shapes.format(dims), t.describe(), null);
        }
    }

    private static void optional(String name, Tensor t, int dim) {
        if (t == null) return;
        required(name, t);
        shape(name, t, "(dim)", dim);
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new Ss2dArgumentException(name, "an integer >= 1", Integer.toString(v), null);
        }
    }

    private static void sameDevice(ScanArgs a) {
        String where = a.u().device();
        Tensor[] ts = a.tensors();
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] != null && !ts[i].isClosed() && !ts[i].device().equals(where)) {
                throw new Ss2dArgumentException(ScanArgs.NAMES[i], "a tensor on " + where + " (as u)", ts[i].describe(), null);
            }
        }
    }
}
