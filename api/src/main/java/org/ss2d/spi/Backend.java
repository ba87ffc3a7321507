package org.ss2d.spi;

import java.lang.foreign.MemorySegment;
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
 */
public interface Backend {
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
    default java.util.OptionalDouble deviceTimeMs(Runnable op, int warmup, int reps) {
        return java.util.OptionalDouble.empty();
    }

    /** Waits for queued device work; no-op on host backends. */
    default void synchronize() {}
}
