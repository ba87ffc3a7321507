package org.ss2d.cpu;

/** Reaches the package-private lookup (a fresh choice, not the cached one) from tests. */
final class KernelsAccess {
    private KernelsAccess() {}

    static Object lookup(String choice) {
        return org.ss2d.cpu.kernel.KernelsTestHook.lookup(choice);
    }
}
