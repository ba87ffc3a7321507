package org.ss2d.cpu.archfixture;

import org.ss2d.cuda.archfixture.CudaThing;

/** Breaks BACKENDS_ARE_INDEPENDENT on purpose: the CPU backend calling the CUDA one. */
public final class CpuUsesCuda {
    public int run() {
        return new CudaThing().work();
    }
}
