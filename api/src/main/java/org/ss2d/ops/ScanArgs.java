package org.ss2d.ops;

import java.util.Objects;
import org.ss2d.tensor.Tensor;

/**
 * The arguments of Mamba's {@code selective_scan_fn(u, delta, A, B, C, D=None, z=None,
 * delta_bias=None, delta_softplus=False, return_last_state=False)}, as tensors.
 * {@code last_state} is the true final state {@code h[L-1]}, also for constant B (mamba returns
 * {@code h/B} there).
 */
public record ScanArgs(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor z,
                       Tensor deltaBias, boolean deltaSoftplus, boolean returnLastState) {

    public static Builder builder(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C) {
        return new Builder(u, delta, A, B, C);
    }

    /** Every tensor argument, with its Mamba name, nulls included. */
    public Tensor[] tensors() {
        return new Tensor[] {u, delta, A, B, C, D, z, deltaBias};
    }

    public static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

    public static final class Builder {
        private final Tensor u, delta, a, b, c;
        private Tensor d, z, deltaBias;
        private boolean deltaSoftplus, returnLastState;

        private Builder(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c) {
            this.u = u;
            this.delta = delta;
            this.a = a;
            this.b = b;
            this.c = c;
        }

        public Builder D(Tensor value) {
            this.d = value;
            return this;
        }

        public Builder z(Tensor value) {
            this.z = value;
            return this;
        }

        public Builder deltaBias(Tensor value) {
            this.deltaBias = value;
            return this;
        }

        public Builder deltaSoftplus(boolean value) {
            this.deltaSoftplus = value;
            return this;
        }

        public Builder returnLastState(boolean value) {
            this.returnLastState = value;
            return this;
        }

        public ScanArgs build() {
            return new ScanArgs(u, delta, a, b, c, d, z, deltaBias, deltaSoftplus, returnLastState);
        }
    }

    /** Output of {@code Ss2d.selectiveScan}: {@code out (batch, dim, seqlen)}, {@code lastState (batch, dim, dstate)} or null. */
    public record Result(Tensor out, Tensor lastState) implements AutoCloseable {
        public Result {
            Objects.requireNonNull(out, "out");
        }

        @Override
        public void close() {
            out.close();
            if (lastState != null) lastState.close();
        }
    }
}
