package org.ss2d.bench.archfixture;

import org.ss2d.cpu.archfixture.CpuThing;

/** Breaks CLIENTS_USE_THE_SPI on purpose: a benchmark constructing a backend class itself. */
public final class BenchUsesCpu {
    public int run() {
        return new CpuThing().work();
    }
}
