package org.ss2d.reference;

import java.util.List;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.ModelRunner;
import org.ss2d.tensor.Tensor;

/** {@link VMambaRef} behind the model SPI: float32 in, float64 inside, rounded once at the store. */
final class ReferenceModel implements ModelRunner {
    private final VMambaWeights weights;

    ReferenceModel(VMambaWeights weights) {
        this.weights = weights;
    }

    @Override
    public void logits(Tensor x, Tensor out) {
        Doubles.store(VMambaRef.logits(weights, Doubles.of(x), (int) x.dim(0), (int) x.dim(2), (int) x.dim(3)), out);
    }

    @Override
    public void features(Tensor x, List<Tensor> outs) {
        List<double[]> f = VMambaRef.features(weights, Doubles.of(x), (int) x.dim(0), (int) x.dim(2), (int) x.dim(3));
        for (int i = 0; i < f.size(); i++) Doubles.store(f.get(i), outs.get(i));
    }

    @Override
    public void close() {}
}
