package org.ss2d.spi;

/**
 * Rates a device backend measured in the calling process, for the performance floors of a benchmark
 * ({@code org.ss2d.model.vmamba.ModelFloors}): what a step could take at best is its bytes at
 * {@code copyGBps} or its FLOPs at a GEMM rate, whichever is longer.
 *
 * @param copyGBps       device-to-device copy bandwidth, bytes read plus bytes written per second / 1e9
 *                       (best of a few large copies)
 * @param squareTflops   the GEMM rate at a {@code squareSize} cube, in the precision the model's GEMMs use
 * @param squareSize     M = N = K of that GEMM
 * @param modelTflops    the GEMM rate on the model's own GEMM shapes: summed FLOPs over summed best times of
 *                       those shapes that are compute-bound by the roofline of the two rates above (each counted as
 *                       often as the model runs it); {@code squareTflops} when none is
 * @param modelGemms     how many distinct model shapes went into {@code modelTflops} (0: it is the square rate)
 * @param gemmMode       the precision timed: {@code float32} (cuBLAS pedantic), {@code tf32}, {@code bfloat16} or
 *                       {@code float16} (16-bit inputs, float32 compute)
 */
public record DeviceRates(double copyGBps, double squareTflops, int squareSize, double modelTflops, int modelGemms,
                          String gemmMode) {}
