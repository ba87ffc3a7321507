package org.ss2d.reference;

import java.util.Set;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/**
 * The float64 reference as a {@link Backend}: widens the inputs (float32, or the scan's half activations) to double, runs the plain
 * double formulations ({@link ScanRef}, {@link CrossRef}, {@link SS2DRef}, {@link VSSRef}) and rounds
 * the results once, at the store, to the output's dtype. Tests that need the float64 values call those classes
 * directly.
 */
final class ReferenceBackend implements Backend {
    // The scan takes half activations: they are widened exactly (Doubles.of), the recurrence runs in float64 on
    // the rounded values, and out is rounded once, to its own dtype, at the store.
    // Blocks and models in a half dtype round at the points where a backend stores that dtype (HalfSteps).
    private static final Capabilities CAPS = new Capabilities(Capabilities.UNLIMITED, Set.of(DType.F32, DType.F16, DType.BF16), false,
            "host, float64 reference oracle (plain loops, one thread, not for speed)", 0, false, 1,
            Set.of(DType.F32, DType.F16, DType.BF16));

    @Override
    public String name() {
        return ReferenceProvider.NAME;
    }

    @Override
    public Capabilities capabilities() {
        return CAPS;
    }

    @Override
    public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
        ScanRef.Result r = ScanRef.run(ScanRef.Problem.of(args, shape));
        Doubles.store(r.out(), out);
        if (lastState != null) Doubles.store(r.lastState(), lastState);
    }

    /** The float64 adjoint ({@link ScanBackwardRef}), rounded once to float32 at the store. */
    @Override
    public void selectiveScanBackward(ScanArgs args, ScanShape shape, Tensor dout, Tensor dLastState,
                                      org.ss2d.ops.ScanGrads grads) {
        ScanBackwardRef.Grads g = ScanBackwardRef.run(ScanRef.Problem.of(args, shape), Doubles.of(dout),
                dLastState == null ? null : Doubles.of(dLastState));
        double[][] values = g.inOrder();
        Tensor[] outs = grads.tensors();
        for (int i = 0; i < outs.length; i++) if (outs[i] != null) Doubles.store(values[i], outs[i]);
    }

    /** The float64 block backward ({@link BlockBackwardRef}), rounded once at the store. */
    @Override
    public void ss2dBackward(org.ss2d.model.SS2DWeights weights, Tensor x, Tensor dout,
                             java.util.Map<String, Tensor> grads) {
        store(BlockBackwardRef.ss2d(SS2DRef.Params.of(weights), Doubles.of(x), Doubles.of(dout), (int) x.dim(0),
                (int) x.dim(2), (int) x.dim(3)), grads);
    }

    @Override
    public void vssBlockBackward(org.ss2d.model.VSSWeights weights, Tensor x, Tensor dout,
                                 java.util.Map<String, Tensor> grads) {
        store(BlockBackwardRef.vss(VSSRef.Params.of(weights), Doubles.of(x), Doubles.of(dout), (int) x.dim(0),
                (int) x.dim(2), (int) x.dim(3)), grads);
    }

    private static void store(java.util.Map<String, double[]> values, java.util.Map<String, Tensor> grads) {
        for (var e : grads.entrySet()) Doubles.store(values.get(e.getKey()), e.getValue());
    }

    @Override
    public long blockBackwardWorkingBytes(org.ss2d.model.SS2DConfig config, double mlpRatio, long batch, long h,
                                          long w) {
        return 0;
    }

    /** Heap doubles only: nothing the memory budget of host tensors has to count. */
    @Override
    public long scanBackwardWorkingBytes(ScanShape shape) {
        return 0;
    }

    @Override
    public void crossScan(Tensor x, Tensor out) {
        Doubles.store(CrossRef.scan(Doubles.of(x), (int) x.dim(0), (int) x.dim(1), (int) x.dim(2), (int) x.dim(3)), out);
    }

    @Override
    public void crossMerge(Tensor ys, Tensor out) {
        Doubles.store(CrossRef.merge(Doubles.of(ys), (int) out.dim(0), (int) out.dim(1), (int) out.dim(2),
                (int) out.dim(3)), out);
    }

    @Override
    public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
        Doubles.store(SS2DRef.forward(SS2DRef.Params.of(weights), Doubles.of(x), (int) x.dim(0), (int) x.dim(2),
                (int) x.dim(3), x.dtype()), out);
    }

    @Override
    public org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights) {
        return new ReferenceModel(weights, DType.F32);
    }

    @Override
    public org.ss2d.spi.ModelRunner prepareModel(org.ss2d.model.vmamba.VMambaWeights weights, DType dtype) {
        return new ReferenceModel(weights, dtype);
    }

    @Override
    public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
        Doubles.store(VSSRef.forward(VSSRef.Params.of(weights), Doubles.of(x), (int) x.dim(0), (int) x.dim(2),
                (int) x.dim(3), x.dtype()), out);
    }
}
