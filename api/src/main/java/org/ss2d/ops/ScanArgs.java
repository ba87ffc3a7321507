package org.ss2d.ops;

import java.util.Objects;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/**
 * The arguments of Mamba's {@code selective_scan_fn(u, delta, A, B, C, D=None, z=None,
 * delta_bias=None, delta_softplus=False, return_last_state=False)}, as tensors.
 * {@code last_state} is the true final state {@code h[L-1]}, also for constant B (mamba returns
 * {@code h/B} there).
 *
 * @param u               {@code (batch, dim, seqlen)} input
 * @param delta           {@code (batch, dim, seqlen)} step sizes before bias and softplus
 * @param A               {@code (dim, dstate)} state matrix (real; negative for a decaying state)
 * @param B               {@code (dim, dstate)} constant, {@code (batch, dstate, seqlen)} variable or
 *                        {@code (batch, groups, dstate, seqlen)} grouped input matrix
 * @param C               as B: the output matrix
 * @param D               {@code (dim)} skip connection, or null
 * @param z               {@code (batch, dim, seqlen)} gate ({@code out *= silu(z)}), or null
 * @param deltaBias       {@code (dim)} added to delta, or null
 * @param deltaSoftplus   whether softplus (threshold 20) is applied to {@code delta + deltaBias}
 * @param returnLastState whether {@code Ss2d.selectiveScan} also returns the final states
 * @param outFloat32      for half inputs: {@code out} in float32 instead of the input dtype (VMamba's
 *                        "oflex"); no effect on float32 inputs
 */
public record ScanArgs(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor z,
                       Tensor deltaBias, boolean deltaSoftplus, boolean returnLastState, boolean outFloat32) {

    /** The arguments with {@code out} in the input dtype ({@code outFloat32} false). */
    public ScanArgs(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor z,
                    Tensor deltaBias, boolean deltaSoftplus, boolean returnLastState) {
        this(u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, returnLastState, false);
    }

    /**
     * The dtype {@code out} is written in: float32 for float32 inputs or with {@code outFloat32}, else
     * u's (the input dtype). {@code last_state} is float32 always.
     */
    public DType outDtype() {
        return u == null || outFloat32 ? DType.F32 : u.dtype();
    }

    /**
     * A builder with the five required tensors; the options default to absent / false.
     *
     * @param u     {@code (batch, dim, seqlen)}
     * @param delta {@code (batch, dim, seqlen)}
     * @param A     {@code (dim, dstate)}
     * @param B     constant, variable or grouped (see the record's parameters)
     * @param C     constant, variable or grouped
     * @return the builder
     */
    public static Builder builder(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C) {
        return new Builder(u, delta, A, B, C);
    }

    /** Every tensor argument, with its Mamba name, nulls included. */
    public Tensor[] tensors() {
        return new Tensor[] {u, delta, A, B, C, D, z, deltaBias};
    }

    /** The Mamba names of {@link #tensors()}, in the same order. */
    public static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

    /** Builds {@link ScanArgs}; the facade checks the result, not the builder. */
    public static final class Builder {
        private final Tensor u, delta, a, b, c;
        private Tensor d, z, deltaBias;
        private boolean deltaSoftplus, returnLastState, outFloat32;

        private Builder(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c) {
            this.u = u;
            this.delta = delta;
            this.a = a;
            this.b = b;
            this.c = c;
        }

        /**
         * @param value {@code (dim)} skip connection, or null
         * @return this builder
         */
        public Builder D(Tensor value) {
            this.d = value;
            return this;
        }

        /**
         * @param value {@code (batch, dim, seqlen)} gate, or null
         * @return this builder
         */
        public Builder z(Tensor value) {
            this.z = value;
            return this;
        }

        /**
         * @param value {@code (dim)} bias added to delta, or null
         * @return this builder
         */
        public Builder deltaBias(Tensor value) {
            this.deltaBias = value;
            return this;
        }

        /**
         * @param value whether softplus is applied to {@code delta + deltaBias}
         * @return this builder
         */
        public Builder deltaSoftplus(boolean value) {
            this.deltaSoftplus = value;
            return this;
        }

        /**
         * @param value whether the final states are returned too
         * @return this builder
         */
        public Builder returnLastState(boolean value) {
            this.returnLastState = value;
            return this;
        }

        /**
         * @param value for half inputs, whether {@code out} is float32 rather than the input dtype
         * @return this builder
         */
        public Builder outFloat32(boolean value) {
            this.outFloat32 = value;
            return this;
        }

        /** {@return the arguments (not yet checked: the facade does that)} */
        public ScanArgs build() {
            return new ScanArgs(u, delta, a, b, c, d, z, deltaBias, deltaSoftplus, returnLastState, outFloat32);
        }
    }

    /** Output of {@code Ss2d.selectiveScan}: {@code out (batch, dim, seqlen)}, {@code lastState (batch, dim, dstate)} or null. */
    public record Result(Tensor out, Tensor lastState) implements AutoCloseable {
        /** @throws NullPointerException when {@code out} is null */
        public Result {
            Objects.requireNonNull(out, "out");
        }

        /** Closes both tensors. */
        @Override
        public void close() {
            out.close();
            if (lastState != null) lastState.close();
        }
    }
}
