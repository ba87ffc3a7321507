package org.ss2d.cuda;

import org.ss2d.bindings.CudaDriver;
import org.ss2d.tensor.Tensor;

/**
 * Where an op's tensors are on the device: a device tensor of this backend is used in place; a host
 * input is uploaded into the op's workspace, and a host output gets a workspace buffer that
 * {@link #finish} downloads. Either marks the workspace as having moved host memory, so that it waits
 * for the copies before the op returns.
 */
final class HostStaging {
    private final CudaDevice dev;

    HostStaging(CudaDevice dev) {
        this.dev = dev;
    }

    /** Device address of a tensor of this backend; a tensor of another backend is an argument error. */
    static long address(Tensor t) {
        if (!CudaBackend.NAME.equals(t.deviceMemory().backend())) {
            throw new IllegalArgumentException(t.describe() + " belongs to backend " + t.deviceMemory().backend()
                    + ", not " + CudaBackend.NAME);
        }
        return t.deviceMemory().address();
    }

    /** Device address of an input: itself if on the device, else an upload into {@code ws}. 0 for null. */
    long input(Tensor t, Workspace ws) {
        if (t == null) return 0;
        if (!t.isHost()) return address(t);
        long d = ws.floats(t.elementCount());
        ws.hostTransfer();
        CudaDriver.copyHostToDevice(d, t.segment(), t.byteSize(), dev.stream);
        return d;
    }

    /** Device address for an output: itself, or a workspace buffer that {@link #finish} downloads. */
    long output(Tensor t, Workspace ws) {
        if (t == null) return 0;
        if (!t.isHost()) return address(t);
        ws.hostTransfer();
        return ws.floats(t.elementCount());
    }

    /** Downloads a host output from the buffer {@link #output} gave it; nothing for a device tensor. */
    void finish(Tensor t, long d) {
        if (t != null && t.isHost()) CudaDriver.copyDeviceToHost(t.segment(), d, t.byteSize(), dev.stream);
    }
}
