package org.ss2d.cpu.kernel;

import java.lang.foreign.MemorySegment;

/**
 * One selective scan backward as the kernels see it: the forward's job (its {@code out} and {@code lastState}
 * unused), the incoming gradients and the per-element gradient outputs. A kernel handles one (batch, channel) row
 * at a time: it writes that row of {@code du}, {@code dDelta}, {@code dz}, adds the row's share into variable
 * {@code dB}/{@code dC} (the backend gives one task all the channels that share a B/C row, so these sums run in a
 * fixed channel order), and leaves the row's sums over time in {@code partials} at {@code row * partialStride()}:
 * {@code dA[n]} (dstate), constant {@code dB[n]}, constant {@code dC[n]}, {@code dD}, {@code dDeltaBias}. The backend
 * then adds those over the batch in a fixed order: the result does not depend on the thread count.
 *
 * @param dLastState null when no gradient reaches the final state
 * @param dB         variable or grouped dB (zeroed by the backend first), or null when B is constant
 * @param dC         as dB, for C
 * @param dz         null without z
 */
public record ScanBackwardJob(ScanJob fwd, MemorySegment dout, MemorySegment dLastState, MemorySegment du,
                              MemorySegment dDelta, MemorySegment dB, MemorySegment dC, MemorySegment dz,
                              double[] partials) {

    /** Doubles per row in {@link #partials}: dA, constant dB and dC (dstate each), dD, dDeltaBias. */
    public static int partialStride(int dstate) {
        return 3 * dstate + 2;
    }

    public int partialStride() {
        return partialStride(fwd.dstate());
    }
}
