package org.ss2d.ops;

/**
 * One strided-batched GEMM as the backends run a projection or an im2col convolution: {@code batch} products of an
 * {@code m x k} weight (shared by the batch) with a {@code k x n} map into an {@code m x n} map.
 */
public record GemmShape(int m, int n, int k, int batch) {
    public long flops() {
        return 2L * m * n * k * batch;
    }

    /** The weight read once, each map read or written once, {@code elementBytes} an element. */
    public long bytes(int elementBytes) {
        return ((long) m * k + ((long) k + m) * n * batch) * elementBytes;
    }
}
