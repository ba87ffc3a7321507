package org.ss2d;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.Backend;
import org.ss2d.spi.ModelRunner;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.MemoryBudget;
import org.ss2d.validate.Ss2dArgumentException;
import org.ss2d.validate.Validator;

/**
 * A VMamba classification network ready to run on one backend: built once from a configuration and
 * weights ({@link #of}, {@link Ss2d#vmamba}), then one call per batch of images. The backend keeps its
 * form of the weights and its workspaces between calls (nothing is allocated after the first call of a
 * shape); calls on one model are serialised. Close it to free them; the weight tensors stay the caller's.
 * The weights are read when the model is built (a backend may copy them into its own layout or onto its
 * device): build a new model after changing a weight tensor in place.
 *
 * <pre>{@code
 * VMambaWeights w = VMambaWeights.fromStateDict(safetensors.tensors());   // config inferred
 * try (VMambaModel model = VMambaModel.of(Ss2d.auto(), w)) {
 *     Tensor logits = model.logits(scope, images);                        // (batch, 1000)
 * }
 * }</pre>
 */
public final class VMambaModel implements AutoCloseable {
    private final VMambaWeights weights;
    private final DType dtype;
    private final Backend backend;
    private final ModelRunner runner;
    private boolean closed;

    private VMambaModel(VMambaWeights weights, DType dtype, Backend backend, ModelRunner runner) {
        this.weights = weights;
        this.dtype = dtype;
        this.backend = backend;
        this.runner = runner;
    }

    /**
     * Validates the weights and prepares the model on {@code ss}'s backend: the forced one, or the first
     * available backend (by rank) that runs whole models.
     *
     * @throws Ss2dArgumentException     naming a missing or mis-shaped parameter
     * @throws LimitExceededException    when the forced backend (or every available one) has no model support
     */
    public static VMambaModel of(Ss2d ss, VMambaWeights weights) {
        return of(ss, weights, DType.F32);
    }

    /**
     * As {@link #of(Ss2d, VMambaWeights)} with activations of {@code dtype} (the model's {@code dtype} option): the
     * images, the logits and the stage features in that type, every activation between steps held in it, float32
     * arithmetic inside each step; the float32 weights are converted once, here (docs/models.md, "Half precision").
     *
     * @throws Ss2dArgumentException     naming a missing or mis-shaped parameter, or {@code dtype} when null
     * @throws LimitExceededException    when the forced backend (or every available one) has no models in {@code dtype}
     */
    public static VMambaModel of(Ss2d ss, VMambaWeights weights, DType dtype) {
        Validator.vmambaWeights(weights);
        Backend forced = ss.forcedBackend();
        if (forced != null) return prepare(forced, weights, dtype);
        LimitExceededException first = null;
        for (Backend b : Backends.autoCandidates()) {
            try {
                return prepare(b, weights, dtype);
            } catch (LimitExceededException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
        throw new IllegalStateException("no compute backend is available: " + Backends.reasons());
    }

    private static VMambaModel prepare(Backend b, VMambaWeights weights, DType dtype) {
        Validator.blockDtype(dtype, b.capabilities(), b.name());
        return new VMambaModel(weights, dtype, b, b.prepareModel(weights, dtype));
    }

    /** The activation dtype of the images, logits and features (float32 unless the model was built with another). */
    public DType dtype() {
        return dtype;
    }

    public VMambaConfig config() {
        return weights.config();
    }

    public VMambaWeights weights() {
        return weights;
    }

    /** The backend the model runs on. */
    public Backend backend() {
        return backend;
    }

    /** Class scores before softmax, {@code (batch, num_classes)}, for {@code x (batch, in_chans, H, W)}. */
    public Tensor logits(TensorScope scope, Tensor x) {
        checkInput(x);
        requireClassifier();
        Tensor out = alloc(scope, x, x.dim(0), config().numClasses());
        try {
            run(() -> runner.logits(x, out));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** As {@link #logits(TensorScope, Tensor)}, into a caller-owned {@code out (batch, num_classes)}. */
    public void logitsInto(Tensor x, Tensor out) {
        checkInput(x);
        requireClassifier();
        Validator.output("out", out, x, "x", dtype, x.dim(0), config().numClasses());
        run(() -> runner.logits(x, out));
    }

    /**
     * The four stage maps {@code (batch, dims[i], H_i, W_i)} for detection and segmentation heads (VMamba's
     * {@code Backbone_VSSM}): each stage's output before its downsampling, through {@code outnorm<i>} where
     * the weights have it.
     */
    public List<Tensor> features(TensorScope scope, Tensor x) {
        int[][] g = checkInput(x);
        List<Tensor> outs = new ArrayList<>();
        try {
            for (int i = 0; i < VMambaConfig.STAGES; i++) outs.add(alloc(scope, x, x.dim(0), config().dim(i), g[i][0], g[i][1]));
            run(() -> runner.features(x, outs));
            return List.copyOf(outs);
        } catch (RuntimeException e) {
            for (Tensor t : outs) t.close();
            throw e;
        }
    }

    /** As {@link #features(TensorScope, Tensor)}, into four caller-owned tensors. */
    public void featuresInto(Tensor x, List<Tensor> outs) {
        int[][] g = checkInput(x);
        if (outs == null || outs.size() != VMambaConfig.STAGES) {
            throw new Ss2dArgumentException("outs", VMambaConfig.STAGES + " tensors", outs == null ? "null" : outs.size() + " tensors", null);
        }
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            Validator.output("outs[" + i + "]", outs.get(i), x, "x", dtype, x.dim(0), config().dim(i), g[i][0], g[i][1]);
        }
        run(() -> runner.features(x, List.copyOf(outs)));
    }

    /** Switches per-layer-kind timing on or off; see {@link #profile()}. */
    public synchronized void profiling(boolean on) {
        checkOpen();
        runner.profiling(on);
    }

    /** Nanoseconds per layer kind summed over the calls since profiling was switched on (empty when off). */
    public synchronized Map<String, Long> profile() {
        checkOpen();
        return runner.profile();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        runner.close();
    }

    private synchronized void run(Runnable r) {
        checkOpen();
        r.run();
    }

    private int[][] checkInput(Tensor x) {
        checkOpen();
        int[][] g = Validator.vmambaInput(config(), x, dtype, backend.capabilities(), backend.name());
        if (!x.isHost() && !x.deviceMemory().backend().equals(backend.name())) {
            throw new Ss2dArgumentException("x", "a host tensor or one on " + backend.name() + " (the model's backend)",
                    x.describe(), null);
        }
        checkBudget(x.dim(0), g);
        return g;
    }

    /**
     * The outputs and an estimate of a forward pass's working memory against the backend's budget: two
     * activation buffers and an im2col buffer (about 5 maps of the largest stage or stem map), and the
     * largest block workspace the backend reports (plus the z branch of v0 blocks).
     */
    private void checkBudget(long batch, int[][] g) {
        VMambaConfig c = config();
        long act = MemoryBudget.product(c.stemHidden(), 4, g[0][0], g[0][1]), outs = 0, blocks = 0;
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            long l = MemoryBudget.product(g[i][0], g[i][1]);
            act = Math.max(act, MemoryBudget.product(c.dim(i), l));
            outs = MemoryBudget.saturatingAdd(outs, MemoryBudget.product(batch, c.dim(i), l, 4));
            long z = c.forwardType() == VMambaConfig.ForwardType.V0 ? MemoryBudget.product(batch, c.ss2d(i).dInner(), l, 4) : 0;
            blocks = Math.max(blocks, MemoryBudget.saturatingAdd(
                    backend.blockWorkingBytes(c.ss2d(i), c.mlpRatio(), batch, g[i][0], g[i][1]), z));
        }
        MemoryBudget.check("vmamba " + c.name(), backend, "outputs", outs, "activations",
                MemoryBudget.product(5, batch, act, 4), "block workspace", blocks);
    }

    private void requireClassifier() {
        if (!config().hasClassifier()) {
            throw new Ss2dArgumentException("model", "a classifier (classifier.head.*) for logits",
                    "a backbone without one: use features()", null);
        }
    }

    private synchronized void checkOpen() {
        if (closed) throw new IllegalStateException("VMamba model " + config().name() + " was used after it was closed");
    }

    private Tensor alloc(TensorScope scope, Tensor like, long... shape) {
        return like.isHost() ? scope.allocate(dtype, shape) : backend.allocate(scope, dtype, shape);
    }
}
