package org.ss2d.ops;

import java.util.Objects;
import org.ss2d.tensor.Tensor;

/**
 * The gradients of a selective scan ({@code Ss2d.selectiveScanBackward}), each shaped as its input of
 * {@link ScanArgs}: one for every input the forward had, null for an absent optional one (no D, z or
 * delta_bias). All float32. Reduced gradients ({@code dA}, {@code dD}, {@code dDeltaBias}, constant
 * {@code dB}/{@code dC} over batch and time, variable ones over the channels sharing a row) are summed in
 * a fixed order: the same inputs on the same backend give the same bits.
 *
 * @param du         {@code (batch, dim, seqlen)}
 * @param dDelta     {@code (batch, dim, seqlen)}, the gradient of delta before bias and softplus
 * @param dA         {@code (dim, dstate)}
 * @param dB         shaped as B (constant, variable or grouped)
 * @param dC         shaped as C
 * @param dD         {@code (dim)} or null
 * @param dz         {@code (batch, dim, seqlen)} or null
 * @param dDeltaBias {@code (dim)} or null
 */
public record ScanGrads(Tensor du, Tensor dDelta, Tensor dA, Tensor dB, Tensor dC, Tensor dD, Tensor dz,
                        Tensor dDeltaBias) implements AutoCloseable {

    /** The case-file names of {@link #tensors()}: {@code grad.} and the input's Mamba name. */
    public static final String[] NAMES = {"grad.u", "grad.delta", "grad.A", "grad.B", "grad.C", "grad.D", "grad.z",
        "grad.delta_bias"};

    /** @throws NullPointerException when a gradient of a required input is null */
    public ScanGrads {
        Objects.requireNonNull(du, "du");
        Objects.requireNonNull(dDelta, "dDelta");
        Objects.requireNonNull(dA, "dA");
        Objects.requireNonNull(dB, "dB");
        Objects.requireNonNull(dC, "dC");
    }

    /** {@return the gradients in {@link ScanArgs#NAMES} order, nulls included} */
    public Tensor[] tensors() {
        return new Tensor[] {du, dDelta, dA, dB, dC, dD, dz, dDeltaBias};
    }

    /** {@return gradients from an array in {@link ScanArgs#NAMES} order} */
    public static ScanGrads of(Tensor[] t) {
        return new ScanGrads(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
    }

    /** Closes every gradient. */
    @Override
    public void close() {
        for (Tensor t : tensors()) if (t != null) t.close();
    }
}
