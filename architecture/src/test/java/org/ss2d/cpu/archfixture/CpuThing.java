package org.ss2d.cpu.archfixture;

/** A stand-in for a CPU backend class. */
public final class CpuThing {
    public int work() {
        return 1;
    }
}
