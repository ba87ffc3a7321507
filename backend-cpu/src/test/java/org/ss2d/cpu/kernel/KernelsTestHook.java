package org.ss2d.cpu.kernel;

/** Test access to {@link Kernels#lookup()}. */
public final class KernelsTestHook {
    private KernelsTestHook() {}

    public static Kernels lookup(String choice) {
        return Kernels.lookup(choice);
    }
}
