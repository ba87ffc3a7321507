package org.ss2d.spi;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.OptionalDouble;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.ops.GemmShape;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * A compute backend. The {@code org.ss2d.Ss2d} facade validates every input once (shapes, dtypes,
 * devices, limits from {@link #capabilities()}) and allocates the outputs; implementations may assume
 * valid arguments and use {@code assert} only.
 *
 * <p>Tensors passed in are either host tensors or tensors in this backend's own memory (made by
 * {@link #allocate}); a device backend handed host tensors copies them in and the results out.
 *
 * <p>Instances come from {@link BackendProvider#create(BackendOptions)}: the process-wide one that
 * {@code Backends.get} shares (never close it), or a private one from {@code Backends.create}, which
 * its caller closes.
 */
public interface Backend extends AutoCloseable {
    /**
     * The backend's stable name, the same as its provider's.
     *
     * @return e.g. {@code cpu}, {@code cuda}, {@code reference}
     */
    String name();

    /**
     * What this backend can run, for the facade's checks and for users; cheap and constant.
     *
     * @return the limits, dtypes and device of this instance
     */
    Capabilities capabilities();

    /**
     * A tensor in this backend's memory; host backends return a host tensor of {@code scope}.
     *
     * @param scope owner of the new tensor (closing it frees the memory)
     * @param dtype element type
     * @param shape dimensions, row-major
     * @return an uninitialised tensor
     * @throws RuntimeException when the memory cannot be had (a device backend's out-of-memory
     *         exception says how much was asked and how much is free)
     */
    default Tensor allocate(TensorScope scope, DType dtype, long... shape) {
        return scope.allocate(dtype, shape);
    }

    /**
     * Copies {@code src} into {@code dst} (same dtype and element count); either may be a host tensor or
     * live in this backend's memory. Returns once {@code dst} may be read (a host destination holds the
     * bytes; a device destination is ordered before later work on this backend).
     *
     * @param src source tensor
     * @param dst destination tensor of the same byte size
     * @throws IllegalArgumentException when the sizes differ or a tensor belongs to another backend
     */
    default void copy(Tensor src, Tensor dst) {
        MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.byteSize());
    }

    /**
     * Registers a host tensor's memory with the device (e.g. {@code cuMemHostRegister}), so that
     * {@link #copy} to and from it is a direct DMA transfer at pinned-memory bandwidth, with no
     * staging copy through a driver buffer. The tensor keeps its Arrow memory; nothing is copied.
     * Worth it for large or repeated transfers (registration itself costs about as much as one copy).
     * The default pins nothing and returns {@link PinnedMemory#NONE}.
     *
     * @param host a host tensor; close the returned registration before the tensor
     * @return the registration, or {@link PinnedMemory#NONE} when nothing was pinned
     */
    default PinnedMemory pin(Tensor host) {
        return PinnedMemory.NONE;
    }

    /**
     * Selective scan forward (Mamba's {@code selective_scan_fn}) on validated arguments.
     *
     * @param args  the inputs, host tensors or this backend's
     * @param shape the sizes the facade's check derived from them
     * @param out   {@code (batch, dim, seqlen)}, written in full
     * @param lastState {@code (batch, dim, dstate)}, the final states; null unless {@code args.returnLastState()}
     */
    void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState);

    /**
     * Selective scan backward on validated arguments: the gradients of {@code sum(dout * out) + sum(dLastState *
     * last_state)} with respect to every input of the forward, recomputing what it needs from the inputs. Reduced
     * gradients must come out bit-identical from run to run on the same inputs. The default refuses with a
     * {@link org.ss2d.validate.LimitExceededException} naming this backend (so {@code auto} tries the next one).
     *
     * @param args       the forward's inputs, host tensors or this backend's
     * @param shape      the sizes the facade's check derived from them
     * @param dout       {@code (batch, dim, seqlen)} gradient reaching {@code out}
     * @param dLastState {@code (batch, dim, dstate)} gradient reaching {@code last_state}, or null
     * @param grads      one output per input (null for an absent optional input), each written in full
     * @throws org.ss2d.validate.LimitExceededException when this backend has no scan backward
     */
    default void selectiveScanBackward(ScanArgs args, ScanShape shape, Tensor dout, Tensor dLastState,
                                       org.ss2d.ops.ScanGrads grads) {
        throw noBackward(name(), "the selective scan");
    }

    /**
     * Bytes of working memory of a selective scan backward of {@code shape} (see {@link #scanWorkingBytes}). The
     * default refuses as {@link #selectiveScanBackward} does: the facade asks this while choosing a backend, so a
     * backend without a backward is passed over before anything is allocated.
     *
     * @throws org.ss2d.validate.LimitExceededException when this backend has no scan backward
     */
    default long scanBackwardWorkingBytes(ScanShape shape) {
        throw noBackward(name(), "the selective scan");
    }

    /**
     * The SS2D block's backward on validated arguments: {@code grads} holds {@code grad.x} and {@code grad.<name>}
     * for every parameter of {@code weights.asMap()}, each written in full. The default refuses as
     * {@link #selectiveScanBackward} does.
     *
     * @throws org.ss2d.validate.LimitExceededException when this backend has no block backward
     */
    default void ss2dBackward(SS2DWeights weights, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        throw noBackward(name(), "the SS2D block");
    }

    /** The VSS block's backward, as {@link #ss2dBackward} (SS2D parameters under {@code op.}). */
    default void vssBlockBackward(VSSWeights weights, Tensor x, Tensor dout, Map<String, Tensor> grads) {
        throw noBackward(name(), "the VSS block");
    }

    /**
     * Working memory of a block backward (see {@link #blockWorkingBytes}); the default refuses (the facade asks it
     * while choosing a backend).
     *
     * @throws org.ss2d.validate.LimitExceededException when this backend has no block backward
     */
    default long blockBackwardWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h,
                                           long w) {
        throw noBackward(name(), mlpRatio > 0 ? "the VSS block" : "the SS2D block");
    }

    /** The refusal of a backward that a backend does not have, naming it ({@code CUDA}, {@code CPU}). */
    static org.ss2d.validate.LimitExceededException noBackward(String backend, String op) {
        return new org.ss2d.validate.LimitExceededException("backward", "the "
                + org.ss2d.validate.Validator.displayName(backend) + " backend does not support " + op
                + " backward yet");
    }

    /**
     * Bytes of working memory (workspace, per-thread scratch) that a selective scan of {@code shape} takes beyond
     * its inputs and outputs. The facade adds the outputs and checks the sum against {@link #memoryBudget()} before
     * running ({@link org.ss2d.validate.MemoryBudget}). Default 0.
     */
    default long scanWorkingBytes(ScanShape shape) {
        return 0;
    }

    /**
     * Precision of this backend's matrix products: {@code float32}, or {@code tf32} where a reduced-precision
     * mode is switched on (the conformance budgets and the benchmarks' checks depend on it).
     */
    default String gemmPrecision() {
        return "float32";
    }

    /**
     * As {@link #scanWorkingBytes(ScanShape)} for a scan whose activations are of {@code input} (a half
     * dtype may need staging); default: the same as for float32.
     */
    default long scanWorkingBytes(ScanShape shape, org.ss2d.tensor.DType input) {
        return scanWorkingBytes(shape);
    }

    /**
     * Bytes of working memory of an SS2D block ({@code mlpRatio} 0) or a VSS block over {@code batch x h x w}
     * (see {@link #scanWorkingBytes}). Default 0.
     */
    default long blockWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h, long w) {
        return 0;
    }

    /**
     * As {@link #blockWorkingBytes(org.ss2d.model.SS2DConfig, double, long, long, long)} for a block whose
     * activations are of {@code dtype} (a half block may stage float32 copies); default: the float32 figure.
     */
    default long blockWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h, long w,
                                   DType dtype) {
        return blockWorkingBytes(config, mlpRatio, batch, h, w);
    }

    /**
     * Bytes of this backend's memory that an op takes to stage {@code tensors} (null entries ignored): a device
     * backend copies host tensors into device buffers for the op's duration. Counted by the facade with the op's
     * working memory. Default 0 (a host backend uses host tensors in place).
     */
    default long stagingBytes(org.ss2d.tensor.Tensor... tensors) {
        return 0;
    }

    /**
     * Bytes one op may allocate on this backend (outputs plus working memory); over it, the op is a
     * {@link org.ss2d.validate.LimitExceededException} before anything runs. Default: the host budget
     * ({@code -Dss2d.max-bytes}, else the JVM's memory limits, see {@link org.ss2d.validate.MemoryBudget}); a device
     * backend answers with its free device memory.
     */
    default long memoryBudget() {
        return org.ss2d.validate.MemoryBudget.hostBytes();
    }

    /**
     * VMamba's CrossScan: the four routes over each plane (row-major, column-major, both reversed).
     *
     * @param x   {@code (B, C, H, W)}
     * @param out {@code (B, 4, C, H*W)}, written in full
     */
    void crossScan(Tensor x, Tensor out);

    /**
     * VMamba's CrossMerge, the adjoint of {@link #crossScan}: each route's values summed back onto its
     * pixels.
     *
     * @param ys  {@code (B, 4, C, H*W)}
     * @param out {@code (B, C, H, W)}, written in full
     */
    void crossMerge(Tensor ys, Tensor out);

    /**
     * The SS2D block forward ({@code forward_type="v05_noz"}, channels-first). The activation dtype is x's (the
     * facade's {@code dtype} option, one of {@link Capabilities#blockDtypes()}); out is of the same dtype.
     *
     * @param weights validated float32 weights; host tensors may be copied (or converted) to the device once and kept
     * @param x       {@code (B, d_model, H, W)}
     * @param out     {@code (B, d_model, H, W)}, written in full
     */
    void ss2d(SS2DWeights weights, Tensor x, Tensor out);

    /**
     * The VSS block forward: {@code x + SS2D(LN(x))}, then {@code + MLP(LN2(.))}; dtypes as {@link #ss2d}.
     *
     * @param weights validated weights; host tensors may be copied to the device once and kept
     * @param x       {@code (B, d_model, H, W)}
     * @param out     {@code (B, d_model, H, W)}, written in full
     */
    void vssBlock(VSSWeights weights, Tensor x, Tensor out);

    /**
     * Prepares a whole VMamba model (weights already validated by the facade). The default says that
     * this backend has none: a {@link org.ss2d.validate.LimitExceededException}, on which {@code auto}
     * goes on to the next backend and a forced backend fails.
     *
     * @param weights the whole model's weights
     * @return a runner for the model on this backend
     * @throws org.ss2d.validate.LimitExceededException when this backend does not run whole models
     */
    default ModelRunner prepareModel(VMambaWeights weights) {
        throw new org.ss2d.validate.LimitExceededException("model", "the " + name()
                + " backend does not run whole VMamba models");
    }

    /**
     * Prepares a whole VMamba model whose activations are of {@code dtype} (a dtype of
     * {@link Capabilities#blockDtypes()}, checked by the facade): the runner takes images and writes logits and
     * features in that type, and converts the float32 weights once, here. The default prepares float32 models
     * only ({@link #prepareModel(VMambaWeights)}).
     *
     * @throws org.ss2d.validate.LimitExceededException when this backend does not run models in {@code dtype}
     */
    default ModelRunner prepareModel(VMambaWeights weights, DType dtype) {
        if (dtype == DType.F32) return prepareModel(weights);
        throw new org.ss2d.validate.LimitExceededException("dtype", "the " + name()
                + " backend does not run whole VMamba models in " + dtype.arrowName());
    }

    /**
     * Time of {@code op} on the device's own clock (CUDA events around it on the backend's stream),
     * median of {@code reps} runs after {@code warmup}, in milliseconds. Empty for host backends, whose
     * time is wall-clock time. For benchmarks: it leaves out the host's wait for the device.
     *
     * @param op     the work to time (queued on this backend)
     * @param warmup untimed runs first
     * @param reps   timed runs, at least 1
     * @return the median in milliseconds, or empty on a host backend
     */
    default OptionalDouble deviceTimeMs(Runnable op, int warmup, int reps) {
        return OptionalDouble.empty();
    }

    /**
     * Measures, in this process, the device's copy bandwidth and its GEMM rate in the precision that models of
     * {@code dtype} use (at a large cube and at {@code modelGemms}, each given with how often a call runs it), for
     * benchmark floors. Takes a second or two and some device memory (freed before it returns). Empty on host
     * backends.
     */
    default java.util.Optional<DeviceRates> measureRates(DType dtype, Map<GemmShape, Integer> modelGemms) {
        return java.util.Optional.empty();
    }

    /**
     * The kernel (or code path) a selective scan of {@code shape} with activations of {@code input} and out of
     * {@code out} runs on this backend's own tensors, for benchmark reports; empty where the backend names none.
     * A name starting with {@code widened:} means the 16-bit inputs are first copied to float32.
     */
    default java.util.Optional<String> scanKernel(ScanShape shape, org.ss2d.tensor.DType input, org.ss2d.tensor.DType out) {
        return java.util.Optional.empty();
    }

    /**
     * Time per step of the SS2D and VSS blocks that {@code op} runs on this backend, in milliseconds per
     * run, averaged over {@code runs} runs of {@code op}: lower-case step names ({@code in_proj},
     * {@code conv_silu}, {@code cross_scan}, {@code x_dt_proj}, {@code scan}, {@code cross_merge},
     * {@code norm_out}, {@code out_proj}, ...) in the order the block runs them. Host backends measure
     * wall-clock time, device backends their own clock between steps. For benchmarks: the marks cost a
     * little. Empty when the backend has no profile.
     *
     * @param op   runs one or more blocks on this backend
     * @param runs how many times to run it, at least 1
     * @return milliseconds per run by step name, in running order; empty without a profile
     */
    default Map<String, Double> profileSteps(Runnable op, int runs) {
        return Map.of();
    }

    /**
     * The most device memory this backend has held at once (its tensors, cached weights, models and scratch;
     * not the driver's own context) since it was created or since {@link #resetPeakDeviceBytes()}. Empty for host
     * backends. For benchmarks: VMamba's figure is PyTorch's {@code max_memory_allocated}, the same kind of count.
     *
     * @return peak bytes, or empty on a host backend
     */
    default java.util.OptionalLong peakDeviceBytes() {
        return java.util.OptionalLong.empty();
    }

    /** Starts a new {@link #peakDeviceBytes()} count at what is held now; nothing on host backends. */
    default void resetPeakDeviceBytes() {}

    /** Waits for queued device work; no-op on host backends. */
    default void synchronize() {}

    /**
     * Releases what this instance holds (worker threads, device memory, driver handles). Only for
     * instances from {@code Backends.create}; the shared ones live as long as the process. Tensors
     * allocated by this backend must be closed first. The default holds nothing.
     */
    @Override
    default void close() {}
    /**
     * Device memory that another process exported (a CUDA IPC memory handle from {@code cuIpcGetMemHandle}, as
     * the Python package sends PyTorch's CUDA tensors), mapped into this backend's context without a copy. The
     * result's {@link org.ss2d.tensor.DeviceMemory#free()} unmaps it; the exporter must keep the memory
     * allocated until then. The default refuses: only a device backend can.
     *
     * @param handle the exporter's handle bytes
     * @param bytes  the size of the exported allocation (from the exporter)
     * @return the mapped allocation, owned by the caller
     * @throws UnsupportedOperationException when this backend has no device memory to share
     */
    default org.ss2d.tensor.DeviceMemory openIpcMemory(byte[] handle, long bytes) {
        throw new UnsupportedOperationException("the " + name() + " backend cannot open device memory of another process");
    }

    /**
     * Registers {@code host} (page-aligned, e.g. a mapping of a file) for this backend's stream to wait on and write
     * to ({@link StreamFlags}). The memory must stay mapped until the result is closed. The default refuses: only a
     * device backend can.
     *
     * @param host the memory holding the words
     * @return the registration, owned by the caller
     * @throws UnsupportedOperationException when this backend has no device stream to order
     */
    default StreamFlags registerStreamFlags(java.lang.foreign.MemorySegment host) {
        throw new UnsupportedOperationException("the " + name() + " backend has no device stream to order with host flags");
    }
}
