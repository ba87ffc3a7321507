package org.ss2d.bindings;

/** Device memory ran out ({@code CUDA_ERROR_OUT_OF_MEMORY} or {@code CUBLAS_STATUS_ALLOC_FAILED}). */
public class CudaOutOfMemoryException extends CudaException {
    private static final long serialVersionUID = 1L;

    public CudaOutOfMemoryException(String call, int status, String errorName, String errorString, String context) {
        super(call, status, errorName, errorString, context);
    }
}
