package org.ss2d.tensor.archfixture;

import org.ss2d.cpu.archfixture.CpuThing;

/** Breaks API_IS_NEUTRAL on purpose: an api class that calls into a backend. */
public final class ApiUsesCpu {
    public int run() {
        return new CpuThing().work();
    }
}
