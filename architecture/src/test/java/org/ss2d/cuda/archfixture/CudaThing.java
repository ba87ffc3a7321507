package org.ss2d.cuda.archfixture;

/** A stand-in for a CUDA backend class. */
public final class CudaThing {
    public int work() {
        return 2;
    }
}
