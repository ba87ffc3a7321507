package org.ss2d.spi;

import java.util.Set;
import org.ss2d.tensor.DType;

/**
 * What a backend can run, queryable before any op.
 *
 * @param maxDstate       largest dstate the selective scan accepts ({@link #UNLIMITED} for none)
 * @param dtypes          element types the ops accept
 * @param complexA        whether complex A (conjugate-pair convention) is supported
 * @param device          device description, e.g. {@code NVIDIA H100 80GB HBM3 (cuda:0)} or {@code 16 threads, AVX-512}
 * @param deviceMemory    bytes of device memory, or 0 for host backends
 * @param deviceResident  whether the backend keeps tensors in its own memory (upload once, run, download once)
 * @param threads         worker threads of a host backend, 0 otherwise
 * @param blockDtypes     activation dtypes of the SS2D / VSS blocks and whole models (the {@code dtype} option):
 *                        float32 always, the half types where the backend runs them
 */
public record Capabilities(int maxDstate, Set<DType> dtypes, boolean complexA, String device, long deviceMemory,
                           boolean deviceResident, int threads, Set<DType> blockDtypes) {
    /** {@link #maxDstate()} of a backend without a limit. */
    public static final int UNLIMITED = Integer.MAX_VALUE;

    /** A backend whose blocks and models run in float32 only. */
    public Capabilities(int maxDstate, Set<DType> dtypes, boolean complexA, String device, long deviceMemory,
                        boolean deviceResident, int threads) {
        this(maxDstate, dtypes, complexA, device, deviceMemory, deviceResident, threads, Set.of(DType.F32));
    }

    /**
     * The dstate limit for messages and listings.
     *
     * @return {@code none} for {@link #UNLIMITED}, else the number
     */
    public String maxDstateText() {
        return maxDstate == UNLIMITED ? "none" : Integer.toString(maxDstate);
    }
}
