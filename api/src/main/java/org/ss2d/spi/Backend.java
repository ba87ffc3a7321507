package org.ss2d.spi;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.OptionalDouble;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaWeights;
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
    /** Same as the provider's name. */
    String name();

    Capabilities capabilities();

    /** A tensor in this backend's memory; host backends return a host tensor of {@code scope}. */
    default Tensor allocate(TensorScope scope, DType dtype, long... shape) {
        return scope.allocate(dtype, shape);
    }

    /**
     * Copies {@code src} into {@code dst} (same dtype and element count); either may be a host tensor or
     * live in this backend's memory.
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
     */
    default PinnedMemory pin(Tensor host) {
        return PinnedMemory.NONE;
    }

    /** Selective scan forward; {@code lastState} is null unless {@code args.returnLastState()}. */
    void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState);

    /**
     * Bytes of working memory (workspace, per-thread scratch) that a selective scan of {@code shape} takes beyond
     * its inputs and outputs. The facade adds the outputs and checks the sum against {@link #memoryBudget()} before
     * running ({@link org.ss2d.validate.MemoryBudget}). Default 0.
     */
    default long scanWorkingBytes(ScanShape shape) {
        return 0;
    }

    /**
     * Bytes of working memory of an SS2D block ({@code mlpRatio} 0) or a VSS block over {@code batch x h x w}
     * (see {@link #scanWorkingBytes}). Default 0.
     */
    default long blockWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h, long w) {
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

    /** {@code x (B, C, H, W)} to {@code out (B, 4, C, H*W)}, the four VMamba routes. */
    void crossScan(Tensor x, Tensor out);

    /** {@code ys (B, 4, C, H*W)} to {@code out (B, C, H, W)}, the adjoint of {@link #crossScan}. */
    void crossMerge(Tensor ys, Tensor out);

    /** SS2D forward (v05_noz): {@code x, out (B, d_model, H, W)}. */
    void ss2d(SS2DWeights weights, Tensor x, Tensor out);

    /** VSS block forward: {@code x, out (B, d_model, H, W)}. */
    void vssBlock(VSSWeights weights, Tensor x, Tensor out);

    /**
     * Prepares a whole VMamba model (weights already validated by the facade). The default says that
     * this backend has none: a {@link org.ss2d.validate.LimitExceededException}, on which {@code auto}
     * goes on to the next backend and a forced backend fails.
     */
    default ModelRunner prepareModel(VMambaWeights weights) {
        throw new org.ss2d.validate.LimitExceededException("model", "the " + name()
                + " backend does not run whole VMamba models");
    }

    /**
     * Time of {@code op} on the device's own clock (CUDA events around it on the backend's stream),
     * median of {@code reps} runs after {@code warmup}, in milliseconds. Empty for host backends, whose
     * time is wall-clock time. For benchmarks: it leaves out the host's wait for the device.
     */
    default OptionalDouble deviceTimeMs(Runnable op, int warmup, int reps) {
        return OptionalDouble.empty();
    }

    /**
     * Time per step of the SS2D and VSS blocks that {@code op} runs on this backend, in milliseconds per
     * run, averaged over {@code runs} runs of {@code op}: lower-case step names ({@code in_proj},
     * {@code conv_silu}, {@code cross_scan}, {@code x_dt_proj}, {@code scan}, {@code cross_merge},
     * {@code norm_out}, {@code out_proj}, ...) in the order the block runs them. Host backends measure
     * wall-clock time, device backends their own clock between steps. For benchmarks: the marks cost a
     * little. Empty when the backend has no profile.
     */
    default Map<String, Double> profileSteps(Runnable op, int runs) {
        return Map.of();
    }

    /** Waits for queued device work; no-op on host backends. */
    default void synchronize() {}

    /**
     * Releases what this instance holds (worker threads, device memory, driver handles). Only for
     * instances from {@code Backends.create}; the shared ones live as long as the process. Tensors
     * allocated by this backend must be closed first. The default holds nothing.
     */
    @Override
    default void close() {}
}
