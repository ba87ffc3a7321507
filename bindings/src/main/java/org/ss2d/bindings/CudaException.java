package org.ss2d.bindings;

/**
 * A CUDA driver or cuBLAS call returned an error. Carries the failing call, the numeric status, and
 * the library's own name and description of it, e.g.
 * {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) [status 2]}.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int status;
    private final String errorName;

    public CudaException(String call, int status, String errorName, String errorString, String context) {
        super(call + " failed: " + errorName + " (" + errorString + ") [status " + status + "]"
                + (context == null || context.isEmpty() ? "" : "; " + context));
        this.call = call;
        this.status = status;
        this.errorName = errorName;
    }

    /** The library function that failed, e.g. {@code cuLaunchKernel}. */
    public String call() {
        return call;
    }

    /** The raw {@code CUresult} / {@code cublasStatus_t}. */
    public int status() {
        return status;
    }

    /** e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String errorName() {
        return errorName;
    }
}
