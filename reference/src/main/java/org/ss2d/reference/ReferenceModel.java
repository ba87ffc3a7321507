package org.ss2d.reference;

import java.util.List;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.ModelRunner;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/**
 * {@link VMambaRef} behind the model SPI: float64 inside, rounded once at the store; in a half dtype also where a
 * backend stores its activations ({@link VMambaRef#forward(VMambaWeights, double[], int, int, int, DType)}).
 */
final class ReferenceModel implements ModelRunner {
    private final VMambaWeights weights;
    private final DType dtype;

    ReferenceModel(VMambaWeights weights, DType dtype) {
        this.weights = weights;
        this.dtype = dtype;
    }

    @Override
    public void logits(Tensor x, Tensor out) {
        Doubles.store(VMambaRef.forward(weights, Doubles.of(x), (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), dtype)
                .logits(), out);
    }

    @Override
    public void features(Tensor x, List<Tensor> outs) {
        List<double[]> f = VMambaRef.forward(weights, Doubles.of(x), (int) x.dim(0), (int) x.dim(2), (int) x.dim(3), dtype)
                .features();
        for (int i = 0; i < f.size(); i++) Doubles.store(f.get(i), outs.get(i));
    }

    @Override
    public void close() {}
}
